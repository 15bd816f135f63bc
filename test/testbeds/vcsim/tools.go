package main

import (
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// simulateTools makes VMs whose extraConfig has novacron.test.tools=running
// report VMware Tools as running while powered on. The simulator never reports
// tools on its own, which would leave the driver's graceful guest shutdown path
// untested (ShutdownGuest itself is implemented by the simulator).
func simulateTools(every time.Duration) {
	for range time.Tick(every) {
		for _, e := range simulator.Map.All("VirtualMachine") {
			vm := e.(*simulator.VirtualMachine)
			simulator.Map.WithLock(vm, func() {
				if vm.Config == nil || vm.Guest == nil || !wantsTools(vm.Config.ExtraConfig) {
					return
				}
				status := types.VirtualMachineToolsRunningStatusGuestToolsNotRunning
				if vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
					status = types.VirtualMachineToolsRunningStatusGuestToolsRunning
				}
				vm.Guest.ToolsRunningStatus = string(status)
			})
		}
	}
}

func wantsTools(extra []types.BaseOptionValue) bool {
	for _, o := range extra {
		v := o.GetOptionValue()
		if v.Key == "novacron.test.tools" && v.Value == "running" {
			return true
		}
	}
	return false
}
