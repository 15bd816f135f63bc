// NovaCron's own small Proxmox VE API client over undici: JSON answers unwrapped from `{data}`,
// form-encoded bodies, API-token or ticket + CSRF authentication, TLS verified by default with
// a CA file or a pinned certificate fingerprint as the two ways to trust a self-signed node.
import { readFileSync } from "node:fs";
import type { TLSSocket } from "node:tls";
import { buildConnector, Pool } from "undici";
import { PveApiError, PveTransportError } from "./errors";

export type PveAuth = { kind: "token"; tokenId: string; secret: string } | { kind: "password"; username: string; password: string };

export interface PveClientOptions {
  /** https://host:8006 (a trailing /api2/json is accepted). */
  url: string;
  auth: PveAuth;
  /** PEM file of the CA that signed the node's certificate (PVE's own cluster CA: /etc/pve/pve-root-ca.pem). */
  caFile?: string;
  /** SHA-256 fingerprint of the node's certificate, hex pairs with or without colons: trusted exactly, nothing else. */
  fingerprint?: string;
  /** No verification at all; only for throwaway labs. */
  insecure?: boolean;
  requestTimeoutMs?: number;
  connections?: number;
  /** Sees every request before it is sent (the contract test checks them against PVE's schema). */
  onRequest?: (request: PveRequest) => void;
}

/** A list (PVE's `type: array` parameters, such as a resource mapping's `map`) is sent as the key repeated. */
export type ParamValue = string | number | boolean | readonly string[] | undefined;
export type Params = Record<string, ParamValue>;
export type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface PveRequest {
  method: Method;
  /** Below /api2/json, e.g. /nodes/pve1/qemu/100/config. */
  path: string;
  params: Record<string, string>;
  /** Parameters sent as a list (the key repeated), kept apart so `params` stays one value per key. */
  lists?: Record<string, string[]>;
}

/** PVE's ticket lives 2 hours; a fresh one is fetched well before that. */
const TICKET_RENEW_MS = 90 * 60 * 1000;

export class PveClient {
  private readonly pool: Pool;
  private readonly base: string;
  private ticket: { cookie: string; csrf: string; at: number } | undefined;
  private login: Promise<void> | undefined;
  /** Requests sent, for benchmarks and tests. */
  roundTrips = 0;

  constructor(readonly options: PveClientOptions) {
    const url = new URL(options.url);
    if (url.protocol !== "https:") throw new TypeError(`Proxmox VE URL must be https://host:8006, got ${options.url}`);
    this.base = `${url.pathname.replace(/\/+$/, "").replace(/\/api2\/json$/, "")}/api2/json`;
    this.pool = new Pool(url.origin, {
      connections: options.connections ?? 8,
      connect: connectorFor(options),
      headersTimeout: options.requestTimeoutMs ?? 60_000,
      bodyTimeout: options.requestTimeoutMs ?? 60_000,
    });
  }

  get<T>(path: string, params: Params = {}): Promise<T> {
    return this.request<T>("GET", path, params);
  }

  post<T>(path: string, params: Params = {}): Promise<T> {
    return this.request<T>("POST", path, params);
  }

  put<T>(path: string, params: Params = {}): Promise<T> {
    return this.request<T>("PUT", path, params);
  }

  delete<T>(path: string, params: Params = {}): Promise<T> {
    return this.request<T>("DELETE", path, params);
  }

  /** One API call; answers `data`. A ticket that expired is renewed once and the call repeated. */
  async request<T>(method: Method, path: string, params: Params = {}): Promise<T> {
    const form = formOf(params);
    if (this.options.onRequest) this.options.onRequest(recorded(method, path, params, form));
    // A fresh ticket (or a token) needs no await: one promise hop fewer on every call.
    if (this.options.auth.kind === "password" && !this.ticketFresh()) await this.ensureTicket();
    let reply = await this.send(method, path, form);
    if (reply.status === 401 && this.options.auth.kind === "password") {
      this.ticket = undefined;
      await this.ensureTicket();
      reply = await this.send(method, path, form);
    }
    return unwrap<T>(method, path, reply);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private ticketFresh(): boolean {
    return this.ticket !== undefined && Date.now() - this.ticket.at < TICKET_RENEW_MS;
  }

  private async ensureTicket(): Promise<void> {
    const auth = this.options.auth;
    if (auth.kind !== "password") return;
    if (this.ticketFresh()) return;
    // Parallel calls share one login.
    this.login ??= (async () => {
      const form = formOf({ username: auth.username, password: auth.password });
      const reply = await this.send("POST", "/access/ticket", form, true);
      const data = unwrap<{ ticket?: string; CSRFPreventionToken?: string; NeedTFA?: number }>("POST", "/access/ticket", reply);
      if (data.NeedTFA) throw new PveApiError("POST", "/access/ticket", 401, `user ${auth.username} needs a second factor; use an API token instead`);
      if (!data.ticket || !data.CSRFPreventionToken) throw new PveApiError("POST", "/access/ticket", reply.status, "the login answer has no ticket");
      this.ticket = { cookie: `PVEAuthCookie=${data.ticket}`, csrf: data.CSRFPreventionToken, at: Date.now() };
    })().finally(() => {
      this.login = undefined;
    });
    await this.login;
  }

  private async send(method: Method, path: string, form: URLSearchParams, anonymous = false): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { "user-agent": USER_AGENT };
    const auth = this.options.auth;
    if (!anonymous && auth.kind === "token") headers.authorization = `PVEAPIToken=${auth.tokenId}=${auth.secret}`;
    if (!anonymous && auth.kind === "password" && this.ticket) {
      headers.cookie = this.ticket.cookie;
      if (method !== "GET") headers.csrfpreventiontoken = this.ticket.csrf;
    }
    const query = method === "GET" || method === "DELETE";
    const encoded = form.size > 0 ? form.toString() : "";
    let body: string | undefined;
    if (!query && encoded) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = encoded;
    }
    this.roundTrips++;
    try {
      const res = await this.pool.request({ path: this.base + encodePath(path) + (query && encoded ? `?${encoded}` : ""), method, headers, body });
      return { status: res.statusCode, text: await res.body.text() };
    } catch (error) {
      // Never the headers: they hold the token secret or the ticket.
      throw new PveTransportError(`Proxmox VE ${this.options.url}: ${method} ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
}

/** Who calls, for PVE's access log; the answer is JSON whatever Accept says (the path is /api2/json). */
const USER_AGENT = `novacron-proxmox (pid ${process.pid})`;

function unwrap<T>(method: string, path: string, reply: { status: number; text: string }): T {
  let body: { data?: unknown; message?: string; errors?: Record<string, string> } = {};
  try {
    body = reply.text ? (JSON.parse(reply.text) as typeof body) : {};
  } catch {
    // A proxy's HTML page or a truncated answer: reported by status below.
  }
  if (reply.status >= 400 || body.errors) {
    const reason = (body.message ?? `HTTP ${reply.status}`).trim();
    const fields = Object.fromEntries(Object.entries(body.errors ?? {}).map(([k, v]) => [k, String(v).trim().split(/\n+/).join("; ")]));
    throw new PveApiError(method, path, reply.status, reason, fields);
  }
  return body.data as T;
}

/** Booleans as PVE reads them (1/0); unset values left out; a list as its key repeated. */
function formOf(params: Params): URLSearchParams {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value as readonly string[]) form.append(key, item);
    else form.append(key, typeof value === "boolean" ? (value ? "1" : "0") : String(value));
  }
  return form;
}

function recorded(method: Method, path: string, params: Params, form: URLSearchParams): PveRequest {
  const listed = Object.entries(params).filter(([, v]) => Array.isArray(v)) as [string, string[]][];
  const plain = Object.fromEntries([...form].filter(([k]) => !listed.some(([l]) => l === k)));
  return { method, path, params: plain, ...(listed.length ? { lists: Object.fromEntries(listed.map(([k, v]) => [k, [...v]])) } : {}) };
}

/** Each path segment percent-encoded (UPIDs and volume ids hold ':' and '@', which stay readable). */
function encodePath(path: string): string {
  // Most paths (nodes, ids, UPIDs) hold nothing to encode: no work for them.
  if (/^[A-Za-z0-9/_.:@~-]*$/.test(path)) return path;
  return path
    .split("/")
    .map((s) => encodeURIComponent(s).replace(/%3A/gi, ":").replace(/%40/g, "@"))
    .join("/");
}

type Connector = ReturnType<typeof buildConnector>;

/**
 * TLS trust: the system store by default, a CA file instead, or one pinned certificate. A pin
 * turns chain verification off and compares the leaf's SHA-256 fingerprint, as `pvecm` and PVE's
 * own cluster join do, so a self-signed node can be trusted without trusting anything else.
 */
function connectorFor(options: PveClientOptions): Connector {
  const pin = options.fingerprint ? normaliseFingerprint(options.fingerprint) : undefined;
  const ca = options.caFile ? readFileSync(options.caFile, "utf8") : undefined;
  if (pin === undefined) return buildConnector({ rejectUnauthorized: options.insecure !== true, ...(ca ? { ca } : {}) });
  // No TLS session resumption: a resumed session shows no peer certificate to compare.
  const base = buildConnector({ rejectUnauthorized: false, maxCachedSessions: 0 });
  return (opts, callback) =>
    base(opts, (error, socket) => {
      if (error || !socket) return callback(error ?? new Error("no socket"), null);
      const seen = normaliseFingerprint((socket as TLSSocket).getPeerCertificate?.().fingerprint256 ?? "");
      if (seen !== pin) {
        socket.destroy();
        return callback(new Error(`the server's certificate fingerprint ${seen || "(none)"} is not the pinned ${pin}`), null);
      }
      callback(null, socket);
    });
}

export function normaliseFingerprint(text: string): string {
  const hex = text.replace(/[^0-9a-fA-F]/g, "").toUpperCase();
  return hex.match(/.{2}/g)?.join(":") ?? "";
}
