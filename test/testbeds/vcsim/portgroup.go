package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Simulator extension: HostNetworkSystem.UpdatePortGroup. The simulator has
// AddPortGroup and RemovePortGroup but no UpdatePortGroup, so a standard
// portgroup's VLAN could never be changed in place. This one replaces the
// portgroup's spec (VLAN, vSwitch, policy) in networkInfo, as ESXi does; a
// rename (portgrp.name other than pgName) is not simulated and is refused.
func simulatePortgroupUpdates() {
	for _, e := range simulator.Map.All("HostSystem") {
		ref := e.(*simulator.HostSystem).ConfigManager.NetworkSystem
		if s, ok := simulator.Map.Get(*ref).(*simulator.HostNetworkSystem); ok {
			simulator.Map.Put(&updatableNetworkSystem{s})
		}
	}
}

type updatableNetworkSystem struct {
	*simulator.HostNetworkSystem
}

// Get lets the property collector read the wrapped object's properties
// (it looks for an embedded mo type by value, not behind a pointer).
func (s *updatableNetworkSystem) Get() mo.Reference {
	return s.HostNetworkSystem
}

func (s *updatableNetworkSystem) UpdatePortGroup(ctx *simulator.Context, req *types.UpdatePortGroup) soap.HasFault {
	body := &methods.UpdatePortGroupBody{}
	if req.Portgrp.Name != req.PgName {
		body.Fault_ = simulator.Fault("renaming a portgroup is not simulated", &types.NotSupported{})
		return body
	}
	for i := range s.NetworkInfo.Portgroup {
		if s.NetworkInfo.Portgroup[i].Spec.Name == req.PgName {
			s.NetworkInfo.Portgroup[i].Spec = req.Portgrp
			body.Res = &types.UpdatePortGroupResponse{}
			return body
		}
	}
	body.Fault_ = simulator.Fault("", &types.NotFound{})
	return body
}
