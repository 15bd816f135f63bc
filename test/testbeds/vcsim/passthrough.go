package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Simulator extension: PCI passthrough state. The simulator reports every host's
// hardware.pciDevice but leaves config.pciPassthruInfo empty and lists no
// pciPassthrough targets in QueryConfigTarget, so NovaCron's passthrough checks
// would never see a usable device. These values are invented for the testbed.
var simulatedPassthru = []types.HostPciPassthruInfo{
	{Id: "0000:00:0f.0", PassthruCapable: true, PassthruEnabled: true, PassthruActive: true}, // SVGA II, class 0300: the "GPU"
	{Id: "0000:00:07.7", PassthruCapable: true, PassthruEnabled: true, PassthruActive: true}, // VMCI, class 0880
	{Id: "0000:00:07.3", PassthruCapable: true, PassthruEnabled: true},                       // bridge: enabled, host not rebooted yet
	{Id: "0000:00:07.1", PassthruCapable: true, PassthruEnabled: false},                      // IDE controller: capable, not enabled
	{Id: "0000:00:00.0", PassthruCapable: false},                                             // host bridge: never passthrough
}

func simulatePassthrough() {
	for _, e := range simulator.Map.All("HostSystem") {
		host := e.(*simulator.HostSystem)
		simulator.Map.WithLock(host, func() {
			host.Config.PciPassthruInfo = nil
			for i := range simulatedPassthru {
				info := simulatedPassthru[i]
				host.Config.PciPassthruInfo = append(host.Config.PciPassthruInfo, &info)
			}
		})
	}
	// Each compute resource's browser is swapped for one that also lists the active devices.
	var browsers []types.ManagedObjectReference
	for _, c := range simulator.Map.All("ClusterComputeResource") {
		browsers = append(browsers, *c.(*simulator.ClusterComputeResource).EnvironmentBrowser)
	}
	for _, c := range simulator.Map.All("ComputeResource") {
		browsers = append(browsers, *c.(*mo.ComputeResource).EnvironmentBrowser)
	}
	for _, ref := range browsers {
		if b, ok := simulator.Map.Get(ref).(*simulator.EnvironmentBrowser); ok {
			simulator.Map.Put(&passthroughBrowser{b})
		}
	}
}

type passthroughBrowser struct {
	*simulator.EnvironmentBrowser
}

// QueryConfigTarget adds the host's USB devices (usb.go) and a pciPassthrough entry per active device (enabled, and the
// host rebooted since, as ESXi requires before a VM can take it) of the hosts
// asked about. The systemId is a stand-in for ESXi's own system id: the
// simulated host's hardware UUID.
func (b *passthroughBrowser) QueryConfigTarget(ctx *simulator.Context, req *types.QueryConfigTarget) soap.HasFault {
	res := b.EnvironmentBrowser.QueryConfigTarget(ctx, req)
	body, ok := res.(*methods.QueryConfigTargetBody)
	if !ok || body.Res == nil || req.Host == nil {
		return res
	}
	host, ok := ctx.Map.Get(*req.Host).(*simulator.HostSystem)
	if !ok || host.Hardware == nil {
		return res
	}
	body.Res.Returnval.Usb = append(body.Res.Returnval.Usb, simulatedUsb...)
	active := map[string]bool{}
	for _, p := range simulatedPassthru {
		active[p.Id] = p.PassthruActive
	}
	for _, dev := range host.Hardware.PciDevice {
		if !active[dev.Id] {
			continue
		}
		body.Res.Returnval.PciPassthrough = append(body.Res.Returnval.PciPassthrough, &types.VirtualMachinePciPassthroughInfo{
			VirtualMachineTargetInfo: types.VirtualMachineTargetInfo{Name: dev.DeviceName},
			PciDevice:                dev,
			SystemId:                 host.Hardware.SystemInfo.Uuid,
		})
	}
	return res
}
