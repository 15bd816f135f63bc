/**
 * QMP frames every message as one JSON object per line (QEMU ends them with
 * CRLF). TCP/unix reads split lines arbitrarily, so bytes are buffered until
 * a full line arrives.
 */
export class LineSplitter {
  private buffer = "";

  /** Feed decoded text; returns every complete, non-empty line it finished. */
  push(chunk: string): string[] {
    this.buffer += chunk;
    const parts = this.buffer.split("\n");
    this.buffer = parts.pop() ?? "";
    return parts.map((l) => l.trim()).filter((l) => l.length > 0);
  }
}
