// Every libvirt procedure this client speaks, described once: program,
// procedure number (remote_protocol.x / qemu_protocol.x numbering) and the
// argument/return layouts. The typed facade (client.call) is derived from this
// table, so adding a procedure is one line here and nothing else.
import { type Codec, type Infer, STRING_MAX, VOID, array, bool, hyper, int, map, opaque, optional, str, struct, uhyper, uint, vector } from "./codec";
import { QEMU_PROGRAM, REMOTE_PROGRAM } from "./packet";
import { domainRef, networkRef, nodeDeviceRef, optStr, poolRef, snapshotRef, typedParams, uuid, volRef } from "./types";

export interface ProcDef<A, R> {
  readonly prog: number;
  readonly proc: number;
  readonly args: Codec<A>;
  readonly ret: Codec<R>;
  /** Procedure opens a data stream sharing the call's serial. */
  readonly stream?: "upload" | "download";
}

function remote<A, R>(proc: number, args: Codec<A>, ret: Codec<R>, stream?: "upload" | "download"): ProcDef<A, R> {
  return { prog: REMOTE_PROGRAM, proc, args, ret, stream };
}

// Upper bounds used while decoding; generous relative to libvirt's own caps,
// they only exist so a corrupt count cannot trigger a huge allocation.
const LIST_MAX = 65536;
const CELLS_MAX = 1024;
const COOKIE_MAX = 4194304;

const dom = struct({ dom: domainRef });
const domFlags = struct({ dom: domainRef, flags: uint });
const domXmlFlags = struct({ dom: domainRef, xml: str, flags: uint });
const xmlRet = struct({ xml: str });
const xmlFlags = struct({ xml: str, flags: uint });
const name = struct({ name: str });
const listAll = struct({ need_results: int, flags: uint });
const pool = struct({ pool: poolRef });
const poolFlags = struct({ pool: poolRef, flags: uint });
const vol = struct({ vol: volRef });
const volFlags = struct({ vol: volRef, flags: uint });
const net = struct({ net: networkRef });
const netFlags = struct({ net: networkRef, flags: uint });
const snap = struct({ snap: snapshotRef });
const snapFlags = struct({ snap: snapshotRef, flags: uint });
const streamRange = struct({ vol: volRef, offset: uhyper, length: uhyper, flags: uint });

export const procedures = {
  // --- connection ---
  connectOpen: remote(1, struct({ name: optStr, flags: uint }), VOID),
  connectClose: remote(2, VOID, VOID),
  connectGetType: remote(3, VOID, struct({ type: str })),
  connectGetVersion: remote(4, VOID, struct({ hv_ver: uhyper })),
  nodeGetInfo: remote(
    6,
    VOID,
    struct({
      // C `char model[32]`: XDR carries each char as a 4-byte int.
      model: map(
        vector(int, 32),
        (cs) => String.fromCharCode(...cs.slice(0, cs.indexOf(0) < 0 ? cs.length : cs.indexOf(0))),
        (s) => Array.from({ length: 32 }, (_, i) => (i < s.length && i < 31 ? s.charCodeAt(i) & 0xff : 0)),
      ),
      memory: uhyper,
      cpus: int,
      mhz: int,
      nodes: int,
      sockets: int,
      cores: int,
      threads: int,
    }),
  ),
  connectGetCapabilities: remote(7, VOID, struct({ capabilities: str })),
  connectGetHostname: remote(59, VOID, struct({ hostname: str })),
  connectSupportsFeature: remote(60, struct({ feature: int }), struct({ supported: bool })),
  authList: remote(66, VOID, struct({ types: array(int, 20) })),
  authPolkit: remote(70, VOID, struct({ complete: bool })),
  nodeGetCellsFreeMemory: remote(101, struct({ startCell: int, maxcells: int }), struct({ cells: array(uhyper, CELLS_MAX) })),
  connectGetUri: remote(110, VOID, struct({ uri: str })),
  connectGetLibVersion: remote(157, VOID, struct({ lib_ver: uhyper })),
  connectGetDomainCapabilities: remote(342, struct({ emulatorbin: optStr, arch: optStr, machine: optStr, virttype: optStr, flags: uint }), struct({ capabilities: str })),

  // --- domains ---
  domainAttachDevice: remote(8, struct({ dom: domainRef, xml: str }), VOID),
  domainCreate: remote(9, dom, VOID),
  domainCreateXml: remote(10, struct({ xml_desc: str, flags: uint }), dom),
  domainDefineXml: remote(11, struct({ xml: str }), dom),
  domainDestroy: remote(12, dom, VOID),
  domainGetXmlDesc: remote(14, domFlags, xmlRet),
  domainGetAutostart: remote(15, dom, struct({ autostart: bool })),
  domainGetInfo: remote(16, dom, struct({ state: uint, maxMem: uhyper, memory: uhyper, nrVirtCpu: uint, cpuTime: uhyper })),
  domainLookupById: remote(22, struct({ id: int }), dom),
  domainLookupByName: remote(23, name, dom),
  domainLookupByUuid: remote(24, struct({ uuid }), dom),
  domainReboot: remote(27, domFlags, VOID),
  domainResume: remote(28, dom, VOID),
  domainSetAutostart: remote(29, struct({ dom: domainRef, autostart: bool }), VOID),
  domainShutdown: remote(33, dom, VOID),
  domainSuspend: remote(34, dom, VOID),
  domainUndefine: remote(35, dom, VOID),
  domainIsActive: remote(150, dom, struct({ active: bool })),
  domainIsPersistent: remote(151, dom, struct({ persistent: bool })),
  domainAttachDeviceFlags: remote(160, domXmlFlags, VOID),
  domainDetachDeviceFlags: remote(161, domXmlFlags, VOID),
  domainAbortJob: remote(164, dom, VOID),
  domainMigrateSetMaxDowntime: remote(166, struct({ dom: domainRef, downtime: uhyper, flags: uint }), VOID),
  domainMigrateStartPostCopy: remote(364, struct({ dom: domainRef, flags: uint }), VOID),
  domainUpdateDeviceFlags: remote(174, domXmlFlags, VOID),
  domainManagedSave: remote(182, domFlags, VOID),
  domainHasManagedSaveImage: remote(183, domFlags, struct({ result: bool })),
  domainManagedSaveRemove: remote(184, domFlags, VOID),
  domainCreateWithFlags: remote(196, domFlags, dom),
  domainSetVcpusFlags: remote(199, struct({ dom: domainRef, nvcpus: uint, flags: uint }), VOID),
  domainGetVcpusFlags: remote(200, domFlags, struct({ num: int })),
  domainSetMemoryFlags: remote(204, struct({ dom: domainRef, memory: uhyper, flags: uint }), VOID),
  domainGetState: remote(212, domFlags, struct({ state: int, reason: int })),
  domainUndefineFlags: remote(231, domFlags, VOID),
  // size in KiB, or in bytes with VIR_DOMAIN_BLOCK_RESIZE_BYTES (1) in flags.
  domainBlockResize: remote(251, struct({ dom: domainRef, disk: str, size: uhyper, flags: uint }), VOID),
  domainDestroyFlags: remote(234, domFlags, VOID),
  domainShutdownFlags: remote(258, domFlags, VOID),
  connectListAllDomains: remote(273, listAll, struct({ domains: array(domainRef, LIST_MAX), ret: uint })),
  domainGetJobStats: remote(298, domFlags, struct({ type: int, params: typedParams })),
  domainMigratePerform3Params: remote(
    305,
    struct({ dom: domainRef, dconnuri: optStr, params: typedParams, cookie_in: opaque(COOKIE_MAX), flags: uint }),
    struct({ cookie_out: opaque(COOKIE_MAX) }),
  ),
  connectDomainEventCallbackRegisterAny: remote(316, struct({ eventID: int, dom: optional(domainRef) }), struct({ callbackID: int })),
  connectDomainEventCallbackDeregisterAny: remote(317, struct({ callbackID: int }), VOID),
  connectGetAllDomainStats: remote(
    344,
    struct({ doms: array(domainRef, LIST_MAX), stats: uint, flags: uint }),
    struct({ retStats: array(struct({ dom: domainRef, params: typedParams }), LIST_MAX) }),
  ),
  domainDefineXmlFlags: remote(350, xmlFlags, dom),
  domainSetMetadata: remote(264, struct({ dom: domainRef, type: int, metadata: optStr, key: optStr, uri: optStr, flags: uint }), VOID),

  // --- snapshots ---
  domainSnapshotCreateXml: remote(185, struct({ dom: domainRef, xml_desc: str, flags: uint }), snap),
  domainSnapshotGetXmlDesc: remote(186, snapFlags, xmlRet),
  domainSnapshotLookupByName: remote(189, struct({ dom: domainRef, name: str, flags: uint }), snap),
  domainSnapshotCurrent: remote(191, domFlags, snap),
  domainRevertToSnapshot: remote(192, snapFlags, VOID),
  domainSnapshotDelete: remote(193, snapFlags, VOID),
  domainListAllSnapshots: remote(274, struct({ dom: domainRef, need_results: int, flags: uint }), struct({ snapshots: array(snapshotRef, LIST_MAX), ret: int })),

  // --- storage pools ---
  storagePoolCreateXml: remote(76, xmlFlags, pool),
  storagePoolDefineXml: remote(77, xmlFlags, pool),
  storagePoolCreate: remote(78, poolFlags, VOID),
  storagePoolBuild: remote(79, poolFlags, VOID),
  storagePoolDestroy: remote(80, pool, VOID),
  storagePoolDelete: remote(81, poolFlags, VOID),
  storagePoolUndefine: remote(82, pool, VOID),
  storagePoolRefresh: remote(83, poolFlags, VOID),
  storagePoolLookupByName: remote(84, name, pool),
  storagePoolLookupByUuid: remote(85, struct({ uuid }), pool),
  storagePoolLookupByVolume: remote(86, vol, pool),
  storagePoolGetInfo: remote(87, pool, struct({ state: uint, capacity: uhyper, allocation: uhyper, available: uhyper })),
  storagePoolGetXmlDesc: remote(88, poolFlags, xmlRet),
  storagePoolGetAutostart: remote(89, pool, struct({ autostart: bool })),
  storagePoolSetAutostart: remote(90, struct({ pool: poolRef, autostart: bool }), VOID),
  storagePoolIsActive: remote(154, pool, struct({ active: bool })),
  connectListAllStoragePools: remote(281, listAll, struct({ pools: array(poolRef, LIST_MAX), ret: uint })),

  // --- storage volumes ---
  storageVolCreateXml: remote(93, struct({ pool: poolRef, xml: str, flags: uint }), vol),
  storageVolDelete: remote(94, volFlags, VOID),
  storageVolLookupByName: remote(95, struct({ pool: poolRef, name: str }), vol),
  storageVolLookupByKey: remote(96, struct({ key: str }), vol),
  storageVolLookupByPath: remote(97, struct({ path: str }), vol),
  storageVolGetInfo: remote(98, vol, struct({ type: int, capacity: uhyper, allocation: uhyper })),
  storageVolGetXmlDesc: remote(99, volFlags, xmlRet),
  storageVolGetPath: remote(100, vol, struct({ name: str })),
  storageVolCreateXmlFrom: remote(125, struct({ pool: poolRef, xml: str, clonevol: volRef, flags: uint }), vol),
  storageVolWipe: remote(165, volFlags, VOID),
  storageVolUpload: remote(208, streamRange, VOID, "upload"),
  storageVolDownload: remote(209, streamRange, VOID, "download"),
  storageVolResize: remote(260, struct({ vol: volRef, capacity: uhyper, flags: uint }), VOID),
  storagePoolListAllVolumes: remote(282, struct({ pool: poolRef, need_results: int, flags: uint }), struct({ vols: array(volRef, LIST_MAX), ret: uint })),

  // --- networks ---
  networkCreate: remote(39, net, VOID),
  networkCreateXml: remote(40, struct({ xml: str }), net),
  networkDefineXml: remote(41, struct({ xml: str }), net),
  networkDestroy: remote(42, net, VOID),
  networkGetXmlDesc: remote(43, netFlags, xmlRet),
  networkGetAutostart: remote(44, net, struct({ autostart: bool })),
  networkGetBridgeName: remote(45, net, struct({ name: str })),
  networkLookupByName: remote(46, name, net),
  networkLookupByUuid: remote(47, struct({ uuid }), net),
  networkSetAutostart: remote(48, struct({ net: networkRef, autostart: bool }), VOID),
  networkUndefine: remote(49, net, VOID),
  networkIsActive: remote(152, net, struct({ active: bool })),
  connectListAllNetworks: remote(283, listAll, struct({ nets: array(networkRef, LIST_MAX), ret: uint })),
  networkGetDhcpLeases: remote(
    341,
    struct({ net: networkRef, mac: optStr, need_results: int, flags: uint }),
    struct({
      leases: array(
        struct({
          iface: str,
          expirytime: hyper,
          type: int,
          mac: optStr,
          iaid: optStr,
          ipaddr: str,
          prefix: uint,
          hostname: optStr,
          clientid: optStr,
        }),
        LIST_MAX,
      ),
      ret: uint,
    }),
  ),

  // --- node devices ---
  nodeDeviceLookupByName: remote(113, name, struct({ dev: nodeDeviceRef })),
  nodeDeviceGetXmlDesc: remote(114, struct({ name: str, flags: uint }), xmlRet),
  nodeDeviceGetParent: remote(115, name, struct({ parentName: optStr })),
  nodeDeviceReAttach: remote(119, name, VOID),
  nodeDeviceReset: remote(120, name, VOID),
  connectListAllNodeDevices: remote(285, listAll, struct({ devices: array(nodeDeviceRef, LIST_MAX), ret: uint })),
  nodeDeviceDetachFlags: remote(301, struct({ name: str, driverName: optStr, flags: uint }), VOID),

  // --- QEMU program ---
  qemuDomainMonitorCommand: {
    prog: QEMU_PROGRAM,
    proc: 1,
    args: struct({ dom: domainRef, cmd: str, flags: uint }),
    ret: struct({ result: str }),
  } as ProcDef<{ dom: Infer<typeof domainRef>; cmd: string; flags: number }, { result: string }>,
} as const;

export type Procedures = typeof procedures;
export type ProcName = keyof Procedures;
export type ArgsOf<K extends ProcName> = Infer<Procedures[K]["args"]>;
export type RetOf<K extends ProcName> = Infer<Procedures[K]["ret"]>;

/** Reverse index for error messages and event dispatch. */
export const procedureNames: ReadonlyMap<string, ProcName> = new Map(
  (Object.entries(procedures) as [ProcName, ProcDef<unknown, unknown>][]).map(([k, d]) => [`${d.prog}:${d.proc}`, k]),
);

// Asynchronous server-to-client messages (type MESSAGE) we decode.
export const REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE = 318;
export const domainLifecycleMsg = struct({
  callbackID: int,
  msg: struct({ dom: domainRef, event: int, detail: int }),
});

/** A domain's job ended; carries the same figures as domainGetJobStats on the completed job. */
export const REMOTE_PROC_DOMAIN_EVENT_CALLBACK_JOB_COMPLETED = 363;
export const domainJobCompletedMsg = struct({ callbackID: int, dom: domainRef, params: typedParams });

export const FEATURE_PROGRAM_KEEPALIVE = 10;
export const DOMAIN_EVENT_ID_LIFECYCLE = 0;
export const DOMAIN_EVENT_ID_JOB_COMPLETED = 21;
export { STRING_MAX };
