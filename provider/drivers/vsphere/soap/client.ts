// The vim25 wire client: turns method calls into SOAP envelopes and replies
// into XNodes or typed faults. Session sharing lives in session.ts; this class
// is one authenticated conversation with one endpoint.
import { faultFromSoap, InvalidLoginError, NotAuthenticatedError, VimTransportError } from "./faults";
import { child, children, moref, text, type XNode, parseXml } from "./node";
import { Transport, type TlsOptions } from "./transport";
import { envelope, MoRef, type XmlObject } from "./xml";

export interface VimConnectOptions extends TlsOptions {
  /** The SDK endpoint, e.g. https://vc.example/sdk. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /**
   * vim25 version sent as SOAPAction; the server answers in that version's
   * schema. Default: the newest the server lists in vimServiceVersions.xml
   * (one GET at connect), or "7.0" when it lists none.
   */
  readonly apiVersion?: string;
  readonly userAgent?: string;
  readonly requestTimeoutMs?: number;
  /** Concurrent HTTP connections shared by every caller of this session. */
  readonly connections?: number;
}

export interface About {
  readonly fullName: string;
  readonly version: string;
  readonly apiType: string;
  readonly apiVersion: string;
  readonly instanceUuid: string | undefined;
}

/** ServiceContent's manager references by property name (rootFolder, propertyCollector, searchIndex, …). */
export interface ServiceContent {
  readonly about: About;
  readonly refs: Readonly<Record<string, MoRef>>;
  ref(name: string): MoRef;
}

const SERVICE_INSTANCE = new MoRef("ServiceInstance", "ServiceInstance");

function parseServiceContent(node: XNode | undefined): ServiceContent {
  const refs: Record<string, MoRef> = {};
  for (const c of node?.children ?? []) {
    const r = moref(c);
    if (r) refs[c.name] = r;
  }
  const about = child(node, "about");
  return {
    about: {
      fullName: text(about, "fullName") ?? "",
      version: text(about, "version") ?? "",
      apiType: text(about, "apiType") ?? "",
      apiVersion: text(about, "apiVersion") ?? "",
      instanceUuid: text(about, "instanceUuid"),
    },
    refs,
    ref(name: string): MoRef {
      const r = refs[name];
      if (!r) throw new Error(`vSphere ServiceContent has no ${name} (apiType ${text(about, "apiType")})`);
      return r;
    },
  };
}

export class VimClient {
  readonly transport: Transport;
  private content: ServiceContent | undefined;
  private loginInFlight: Promise<void> | undefined;
  private loggedIn = false;

  constructor(readonly options: VimConnectOptions) {
    this.transport = new Transport({
      url: options.url,
      insecure: options.insecure,
      ca: options.ca,
      userAgent: options.userAgent ?? `novacron-vsphere (pid ${process.pid})`,
      requestTimeoutMs: options.requestTimeoutMs ?? 120_000,
      connections: options.connections ?? 8,
    });
  }

  /** SOAP requests sent so far, for benchmarks and for spotting chatty code paths. */
  get roundTrips(): number {
    return this.transport.roundTrips;
  }

  get serviceContent(): ServiceContent {
    if (!this.content) throw new Error("vSphere client used before connect()");
    return this.content;
  }

  /** Sends one request; returns the <MethodResponse> element (its returnval children are the result). */
  async raw(method: string, self: MoRef, params: XmlObject = {}): Promise<XNode> {
    const reply = await this.transport.post(envelope(method, self, params));
    let doc: XNode;
    try {
      doc = parseXml(reply.body);
    } catch (err) {
      throw new VimTransportError(`vSphere ${method}: HTTP ${reply.status}, unparseable reply`, reply.status, { cause: err });
    }
    const body = child(doc, "Body");
    const fault = child(body, "Fault");
    if (fault) throw faultFromSoap(fault);
    const response = body?.children[0];
    if (reply.status !== 200 || !response) {
      throw new VimTransportError(`vSphere ${method}: HTTP ${reply.status} without a SOAP reply`, reply.status);
    }
    return response;
  }

  /**
   * Calls a method. A NotAuthenticated fault (the server dropped our session,
   * e.g. after its idle timeout) triggers one shared re-login and one retry.
   */
  async call(method: string, self: MoRef, params: XmlObject = {}): Promise<XNode> {
    return this.retryOnSessionLoss(() => this.raw(method, self, params));
  }

  /**
   * Runs `fn`; if it fails with NotAuthenticated while we believed we were
   * logged in, logs in again (shared by all concurrent callers) and runs it
   * once more. Used for faults and for NotAuthenticated reported per property.
   */
  async retryOnSessionLoss<T>(fn: () => Promise<T>): Promise<T> {
    // Requests sent while a re-login is under way would go out without a
    // session; wait for it instead (its failure is reported by its own caller).
    if (this.loginInFlight) await this.loginInFlight.catch(() => undefined);
    const cookie = this.transport.sessionCookie;
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof NotAuthenticatedError) || cookie === undefined) throw err;
      // Another caller may already have replaced the session.
      if (this.transport.sessionCookie === cookie) {
        this.loggedIn = false;
        this.transport.clearSession();
      }
      if (!this.loggedIn) await this.login();
      return fn();
    }
  }

  /** The single returnval of a method, or undefined for void/empty results. */
  async invoke(method: string, self: MoRef, params: XmlObject = {}): Promise<XNode | undefined> {
    return child(await this.call(method, self, params), "returnval");
  }

  async invokeAll(method: string, self: MoRef, params: XmlObject = {}): Promise<XNode[]> {
    return children(await this.call(method, self, params), "returnval");
  }

  async invokeRef(method: string, self: MoRef, params: XmlObject = {}): Promise<MoRef> {
    const ref = moref(await this.invoke(method, self, params));
    if (!ref) throw new Error(`vSphere ${method} returned no managed object reference`);
    return ref;
  }

  /** Fetches ServiceContent and logs in; concurrent callers share one Login. */
  async connect(): Promise<this> {
    if (!this.content) {
      const version = this.options.apiVersion ?? (await this.serverVersion());
      if (version) this.transport.soapAction = `urn:vim25/${version}`;
    }
    if (!this.content) this.content = parseServiceContent(await this.invoke("RetrieveServiceContent", SERVICE_INSTANCE));
    if (!this.loggedIn) await this.login();
    return this;
  }

  /** The newest vim25 version the server declares; an older vCenter refuses versions it does not know. */
  private async serverVersion(): Promise<string | undefined> {
    const xml = await this.transport.getBeside("vimServiceVersions.xml");
    if (!xml) return undefined;
    try {
      const ns = parseXml(xml).children.find((n) => n.name === "namespace" && text(n, "name") === "urn:vim25");
      return text(ns, "version")?.trim() || undefined;
    } catch {
      return undefined; // a malformed listing is not worth failing the connection over
    }
  }

  /** The SOAPAction version in use, e.g. "urn:vim25/6.5". */
  get soapAction(): string {
    return this.transport.soapAction;
  }

  private login(): Promise<void> {
    this.loginInFlight ??= (async () => {
      try {
        await this.raw("Login", this.serviceContent.ref("sessionManager"), {
          userName: this.options.username,
          password: this.options.password,
        });
        this.loggedIn = true;
      } catch (err) {
        if (err instanceof InvalidLoginError) {
          throw new InvalidLoginError(`vSphere ${this.options.url} rejected user "${this.options.username}"`, err.detail);
        }
        throw err;
      } finally {
        this.loginInFlight = undefined;
      }
    })();
    return this.loginInFlight;
  }

  get isLoggedIn(): boolean {
    return this.loggedIn;
  }

  /** Ends the server-side session (freeing one of vCenter's limited session slots) and closes sockets. */
  async logout(): Promise<void> {
    try {
      if (this.loggedIn) await this.raw("Logout", this.serviceContent.ref("sessionManager"));
    } finally {
      this.loggedIn = false;
      this.transport.clearSession();
      await this.transport.close();
    }
  }
}
