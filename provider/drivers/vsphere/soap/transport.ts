// One keep-alive connection pool per endpoint, with TLS verification on unless
// the caller explicitly opts out. Cookies are handled here because vim25
// sessions are nothing but the vmware_soap_session cookie.
import { Pool } from "undici";
import { VimTransportError } from "./faults";

export interface TlsOptions {
  /**
   * Skip TLS certificate verification. Only for labs whose vCenter has a
   * self-signed certificate and no CA to pin; anyone on the path can then read
   * the password. Prefer `ca`.
   */
  readonly insecure?: boolean;
  /** PEM CA certificate(s) to trust instead of the system store, e.g. the vCenter's VMCA root. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
}

export interface TransportOptions extends TlsOptions {
  readonly url: string;
  readonly userAgent: string;
  readonly requestTimeoutMs: number;
  readonly connections: number;
}

export interface HttpReply {
  readonly status: number;
  readonly body: string;
}

export class Transport {
  private readonly pool: Pool;
  private readonly path: string;
  private cookie: string | undefined;
  roundTrips = 0;
  /** "urn:vim25/<version>": the server answers in that version's schema. */
  soapAction = "urn:vim25/7.0";

  constructor(private readonly options: TransportOptions) {
    const url = new URL(options.url);
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new TypeError(`vSphere URL must be https://…/sdk, got ${options.url}`);
    }
    this.path = url.pathname === "/" ? "/sdk" : url.pathname;
    const given = options.ca;
    const ca: string | Buffer | Array<string | Buffer> | undefined = given === undefined ? undefined : typeof given === "string" || Buffer.isBuffer(given) ? given : [...given];
    this.pool = new Pool(url.origin, {
      connections: options.connections,
      connect: { rejectUnauthorized: options.insecure !== true, ...(ca === undefined ? {} : { ca }) },
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
    });
  }

  get sessionCookie(): string | undefined {
    return this.cookie;
  }

  clearSession(): void {
    this.cookie = undefined;
  }

  async post(body: string): Promise<HttpReply> {
    const headers: Record<string, string> = {
      "content-type": "text/xml; charset=utf-8",
      soapaction: this.soapAction,
      "user-agent": this.options.userAgent,
    };
    if (this.cookie) headers.cookie = this.cookie;
    this.roundTrips++;
    const res = await this.pool.request({ path: this.path, method: "POST", headers, body }).catch((err: unknown) => {
      const reason = err instanceof Error ? err.message : String(err);
      throw new VimTransportError(`vSphere ${this.options.url}: ${reason}`, undefined, { cause: err });
    });
    const setCookie = res.headers["set-cookie"];
    for (const c of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const pair = c.split(";")[0]?.trim();
      if (pair?.startsWith("vmware_soap_session=")) this.cookie = pair;
    }
    return { status: res.statusCode, body: await res.body.text() };
  }

  /** A GET next to the SDK endpoint (e.g. vimServiceVersions.xml); undefined unless HTTP 200. */
  async getBeside(file: string): Promise<string | undefined> {
    this.roundTrips++;
    try {
      const res = await this.pool.request({ path: `${this.path.replace(/\/+$/, "")}/${file}`, method: "GET" });
      const body = await res.body.text();
      return res.statusCode === 200 ? body : undefined;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new VimTransportError(`vSphere ${this.options.url}: ${reason}`, undefined, { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
