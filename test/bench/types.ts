/** One figure of a benchmark run; `pass` compares a ratio measured in the same run with its target. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  target?: string;
  pass?: boolean;
}
