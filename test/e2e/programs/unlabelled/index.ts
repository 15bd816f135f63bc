import * as nc from "../../../../sdk";

// Breaks two of examples/policy-pack's mandatory policies: no `app` label, and more memory than
// the pack's ceiling. Only ever previewed.
new nc.VirtualMachine("oversized", {
  host: "local",
  name: "nc-e2e-oversized",
  cpu: { cores: 1 },
  memory: { sizeMiB: 131072 },
  powerState: "stopped",
});
