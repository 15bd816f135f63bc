import * as pulumi from "@pulumi/pulumi";
import { providerText } from "../../../../provider/dynamic/providers";
import * as nc from "../../../../sdk";

// A cloud-init password written in the program (not in stack config, which the engine records
// with the default provider as the user gave it), given to two VMs on the Proxmox host `pve`:
// through the sdk, and around it (a bare dynamic resource with NovaCron's provider, as a program
// in another language or one that skips the sdk would declare it). Neither may leave it in clear.
const config = new pulumi.Config("e2e");
const prefix = config.require("prefix");
const password = `Pw-${prefix}-s3cr3t!`;

const spec = (name: string) => ({
  host: "pve",
  name,
  memory: { sizeMiB: 64 },
  disks: { scsi0: { pool: "local-lvm", sizeGiB: 1 } },
  nics: { net0: { bridge: "vmbr0" } },
  cloudInit: { user: { name: "ops", password }, ipConfig: { net0: { ipv4: "dhcp" } } },
  powerState: "stopped" as const,
});

const viaSdk = new nc.VirtualMachine("via-sdk", spec(`${prefix}-sdk`));
/**
 * A dynamic resource of NovaCron's VirtualMachine provider with none of the sdk's wrapping: the
 * type token and `__provider` text that route it to Pulumi's dynamic provider host, nothing else.
 */
class Bare extends pulumi.CustomResource {}
const bare = new Bare("pulumi-nodejs:dynamic/novacron:VirtualMachine", "bare", {
  ...spec(`${prefix}-bare`),
  state: undefined,
  __provider: providerText("VirtualMachine"),
});

export const sdkId = viaSdk.id;
export const bareId = bare.id;
