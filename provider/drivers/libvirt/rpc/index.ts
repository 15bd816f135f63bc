export { LibvirtClient, DOMAIN_EVENT_NAMES, type ConnectOptions, type DomainLifecycleEvent } from "./client";
export { RpcConnection, type CallOptions, type RpcConnectionOptions } from "./connection";
export * from "./errors";
export { procedures, type ArgsOf, type ProcName, type RetOf } from "./procedures";
export * from "./types";
export { parseLibvirtUri, type LibvirtUri, type Transport } from "./uri";
export { checkKnownHosts, fingerprintSha256 } from "./knownHosts";
