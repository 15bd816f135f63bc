// Pure-TypeScript libvirt client speaking libvirtd's RPC protocol directly
// (no libvirt C library, no native addon).
//
//   const c = await LibvirtClient.connect("qemu+ssh://root@kvm1/system?keyfile=/k");
//   const { dom } = await c.call("domainLookupByName", { name: "web" });
//   const { xml } = await c.call("domainGetXmlDesc", { dom, flags: 0 });
//   await c.close();
//
// Every procedure in `procedures` is callable through `call(name, args)` with
// argument and result types derived from its wire description. Streams
// (volUpload/volDownload), lifecycle events (subscribeDomainLifecycle +
// 'domainLifecycle') and QMP passthrough (qemuMonitorCommand) have helpers.
// Failures: LibvirtError (daemon said no; code/domain + isNotFound() etc.),
// LibvirtTimeoutError (one call's deadline), LibvirtConnectionError (transport
// gone: every pending call gets it; the client emits 'closed'),
// LibvirtProtocolError (peer sent garbage; connection closed),
// HostKeyVerificationError (SSH host key unknown or changed).
export { LibvirtClient, DOMAIN_EVENT_NAMES, type ConnectOptions, type DomainJobCompletedEvent, type DomainLifecycleEvent } from "./client";
export { RpcConnection, type CallOptions, type RpcConnectionOptions } from "./connection";
export * from "./errors";
export { procedures, type ArgsOf, type ProcName, type RetOf } from "./procedures";
export * from "./types";
export { parseLibvirtUri, type LibvirtUri, type Transport } from "./uri";
export { checkKnownHosts, fingerprintSha256 } from "./knownHosts";
