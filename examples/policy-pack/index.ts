import { PolicyPack } from "@pulumi/policy";
// Inside this repository by path; elsewhere `from "novacron/sdk/policy"`.
import {
  allowedHosts,
  consolePasswordRequired,
  noReplaceOfStatefulVms,
  passthroughNeedsNumaPinning,
  passthroughOnDeviceNumaNode,
  requiredLabels,
  vmSizeCeiling,
} from "../../sdk/policy";

new PolicyPack("novacron-guardrails", {
  policies: [
    vmSizeCeiling({ maxMemoryMiB: 65536, maxVcpus: 32 }),
    passthroughNeedsNumaPinning(),
    passthroughOnDeviceNumaNode(),
    consolePasswordRequired(),
    requiredLabels(["app"]),
    noReplaceOfStatefulVms(),
    allowedHosts(["local", "kvm1", "kvm2"]),
  ],
});
