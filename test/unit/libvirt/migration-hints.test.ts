import assert from "node:assert/strict";
import { migrationFixHint } from "../../../provider/drivers/libvirt/migration-hints";

describe("libvirt: a failed migration names the host setting that fixes it", () => {
  const attempt = { target: "kvm1", destinationUri: "qemu+tcp://10.213.0.1/system" };

  it("the data stream to the target's own hostname (no migrationUri) names migrationUri of the target entry", () => {
    const hint = migrationFixHint("unable to connect to server at 'vm:49152': Connection refused", attempt);
    assert.match(hint ?? "", /set migrationUri in the novacron:hosts entry of "kvm1"/);
  });

  it("the source daemon failing to dial the target's daemon names peerUri (default and explicit ports)", () => {
    assert.match(migrationFixHint("unable to connect to server at '10.213.0.1:16509': Connection refused", attempt) ?? "", /set peerUri in the novacron:hosts entry of "kvm1"/);
    const odd = { target: "kvm2", destinationUri: "qemu+tcp://10.213.0.2:1/system", migrateUri: "tcp://10.213.0.2" };
    assert.match(migrationFixHint("unable to connect to server at '10.213.0.2:1': Connection refused", odd) ?? "", /peerUri in the novacron:hosts entry of "kvm2"/);
  });

  it("an unreachable migrationUri that is set is named as it is", () => {
    const hint = migrationFixHint("unable to connect to server at '10.9.9.9:49152': No route to host", { ...attempt, migrateUri: "tcp://10.9.9.9" });
    assert.match(hint ?? "", /cannot reach migrationUri tcp:\/\/10\.9\.9\.9 of the novacron:hosts entry of "kvm1"/);
  });

  it("a failure that is not about reaching the target gets no hint", () => {
    assert.equal(migrationFixHint("Requested operation is not valid: domain has assigned non-USB host devices", attempt), undefined);
  });
});
