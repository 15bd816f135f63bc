/** The spec cannot be expressed in libvirt XML (a translation limit, not a bad input shape). */
export class DomainXmlError extends Error {
  constructor(readonly property: string, reason: string) {
    super(`${property}: ${reason}`);
    this.name = "DomainXmlError";
  }
}
