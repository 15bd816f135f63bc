package main

import (
	"github.com/vmware/govmomi/vim25/types"
)

// Simulator extension: host USB devices. The simulator lists no usb entries in
// QueryConfigTarget, which is where vCenter tells a client which of an ESXi
// host's USB devices (seen by its USB arbitrator) a VM on that host may take.
// Every simulated host gets these; the devices are invented for the testbed.
var simulatedUsb = []types.VirtualMachineUsbInfo{
	{
		VirtualMachineTargetInfo: types.VirtualMachineTargetInfo{Name: "Logitech Unifying Receiver"},
		Description:              "Logitech USB Receiver",
		Vendor:                   0x046d,
		Product:                  0xc52b,
		PhysicalPath:             "1/0/1",
		Family:                   []string{"hid"},
		Speed:                    []string{"full"},
	},
	{
		VirtualMachineTargetInfo: types.VirtualMachineTargetInfo{Name: "SanDisk Cruzer Blade"},
		Description:              "SanDisk Cruzer Blade",
		Vendor:                   0x0781,
		Product:                  0x5567,
		PhysicalPath:             "2/0/3",
		Family:                   []string{"storage"},
		Speed:                    []string{"high"},
	},
}
