import type { Hosts } from "../../../provider/core/hosts";

/** A host of every kind, so capability checks can be driven without any daemon. */
export const HOSTS: Hosts = {
  kvm1: { driver: "libvirt", uri: "qemu:///system" },
  kvm2: { driver: "libvirt", uri: "qemu+tcp://10.213.0.2/system" },
  vc1: { driver: "vsphere", url: "https://vc.example/sdk", username: "ops", password: "s3cret-vc", datacenter: "DC0", insecure: false },
  pve1: { driver: "proxmox", url: "https://pve.example:8006", tokenId: "root@pam!ci", tokenSecret: "s3cret-token", node: "pve", insecure: false },
  hv1: { driver: "hyperv", host: "hv.example", username: "Administrator" },
  xcp1: { driver: "xcpng", url: "https://xcp.example", username: "root", password: "s3cret-xcp", insecure: false },
};

export const VALID_INPUTS: Record<string, Record<string, unknown>> = {
  VirtualMachine: {
    host: "kvm1",
    name: "web",
    cpu: { cores: 2 },
    memory: { sizeMiB: 1024 },
    disks: { vda: { volume: "images/web-root" } },
    nics: { net0: { network: "lab" } },
  },
  StoragePool: { host: "kvm1", name: "images", kind: "dir", path: "/var/lib/novacron/images" },
  Volume: { host: "kvm1", pool: "images", name: "web-root", sizeGiB: 10 },
  Network: { host: "kvm1", name: "lab", mode: "isolated", cidr: "10.77.0.0/24", dhcp: {} },
  PassthroughDevice: { host: "kvm1", kind: "gpu", pciAddress: "0000:01:00.0" },
  Snapshot: { host: "kvm1", vm: "web", name: "before-upgrade" },
  Container: {
    host: "pve1",
    name: "web",
    template: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
    rootfs: { pool: "local-lvm", sizeGiB: 8 },
    mountPoints: { mp0: { pool: "local-lvm", sizeGiB: 2, path: "/srv/data" } },
    nics: { net0: { bridge: "vmbr0", ip: "10.0.0.5/24", gateway: "10.0.0.1" } },
    features: { nesting: true },
  },
  Backup: { host: "pve1", guest: "101", storage: "local", retention: { keepLast: 3 } },
};
