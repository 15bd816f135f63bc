/** A spec libvirt XML cannot express, or an apply-time fact the caller did not resolve; names the model field. */
export class LibvirtXmlError extends Error {
  constructor(
    readonly property: string,
    readonly reason: string,
  ) {
    super(`${property}: ${reason}`);
    this.name = "LibvirtXmlError";
  }
}
