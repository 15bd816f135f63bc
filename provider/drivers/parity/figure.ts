import { DRIVERS, type Driver, type ParityMatrix, type Row } from "./matrix";
import { DOCUMENTED_FEATURES, type DocumentedFeature } from "./sources";

export interface FeatureOutcome extends DocumentedFeature {
  implemented: boolean;
  /** The refusals that keep it from counting, from the matrix. */
  missing: string[];
}

export interface DriverParity {
  kind: Driver;
  product: string;
  /** Whether a driver manages resources at all; without one nothing counts as implemented. */
  implemented: boolean;
  features: FeatureOutcome[];
  /** Share of the documented features NovaCron implements on this kind, 0..1. */
  share: number;
  /** The same share counting what check() accepts, driver or not (the table's promise). */
  acceptedShare: number;
}

/**
 * The seed's parity figure per driver: of the features the hypervisor documents, the share
 * whose matrix rows (computed from the code) are not refused on that driver.
 */
export function parityFigures(matrix: ParityMatrix): DriverParity[] {
  const rows = new Map<string, Row>();
  for (const [section, list] of [
    ["capabilities", matrix.capabilities],
    ["fields", matrix.fields],
    ["changes", matrix.changes],
  ] as const) {
    for (const row of list) rows.set(`${section}:${row.key}`, row);
  }
  return DRIVERS.map((kind) => {
    const driver = matrix.drivers.find((d) => d.kind === kind)!;
    const documented = DOCUMENTED_FEATURES[kind] ?? [];
    const accepted = documented.map((f) => {
      const missing = f.needs.flatMap((need) => {
        const row = rows.get(need);
        if (!row) throw new Error(`parity source "${f.feature}" (${kind}) needs matrix row ${need}, which does not exist`);
        const cell = row.cells[kind];
        return cell.status === "refused" || cell.status === "not-applicable" ? [`${need}: ${cell.reason}`] : [];
      });
      return { ...f, missing };
    });
    const features = accepted.map((f) => ({ ...f, implemented: driver.implemented && f.missing.length === 0 }));
    const count = (xs: { length: number }) => (documented.length === 0 ? 0 : xs.length / documented.length);
    return {
      kind,
      product: driver.product,
      implemented: driver.implemented,
      features,
      share: count(features.filter((f) => f.implemented)),
      acceptedShare: count(accepted.filter((f) => f.missing.length === 0)),
    };
  });
}

export const PARITY_GOAL = 0.95;

/** `npm run parity`: the figure per driver with its sources. */
export function parityReport(figures: DriverParity[]): string {
  const out: string[] = [];
  for (const d of figures) {
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    const done = d.features.filter((f) => f.implemented).length;
    const status = !d.implemented
      ? `no driver yet: 0 of ${d.features.length} implemented (check() accepts ${pct(d.acceptedShare)} of them: capability table only)`
      : `${done} of ${d.features.length} documented features = ${pct(d.share)} ${d.share >= PARITY_GOAL ? "(meets the 95% goal)" : "(below the 95% goal)"}`;
    out.push(`${d.product} [${d.kind}]: ${status}`);
    for (const f of d.features) {
      out.push(`  ${f.implemented ? "✓" : "✗"} ${f.feature}: ${f.says} — ${f.source}`);
      for (const m of f.missing) out.push(`      refused: ${m}`);
    }
    out.push("");
  }
  return out.join("\n");
}

if (require.main === module) {
  const { computeParityMatrix } = require("./matrix") as typeof import("./matrix");
  process.stdout.write(parityReport(parityFigures(computeParityMatrix())));
}
