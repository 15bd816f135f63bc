// Baseline for test/bench/vsphere.ts: the same create/reconfigure/destroy cycle
// as NovaCron's TypeScript client, written with govmomi (the library VMware's own
// tools use), so the benchmark compares against an established client rather than
// against ourselves. Prints one JSON object.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// counter counts SOAP round trips, the unit the benchmark compares besides time.
type counter struct {
	next soap.RoundTripper
	n    int64
}

func (c *counter) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	atomic.AddInt64(&c.n, 1)
	return c.next.RoundTrip(ctx, req, res)
}

type phase struct {
	Ms         float64 `json:"ms"`
	RoundTrips int64   `json:"roundTrips"`
}

func main() {
	rawURL := flag.String("url", "https://127.0.0.1:18989/sdk", "vim25 endpoint")
	user := flag.String("username", os.Getenv("VCSIM_USERNAME"), "user")
	pass := flag.String("password", os.Getenv("VCSIM_PASSWORD"), "password")
	ca := flag.String("ca", os.Getenv("VCSIM_CA"), "PEM file of the trusted CA")
	n := flag.Int("n", 10, "create/reconfigure/destroy cycles")
	prefix := flag.String("prefix", "baseline", "VM name prefix")
	flag.Parse()

	ctx := context.Background()
	u, err := url.Parse(*rawURL)
	check(err)
	sc := soap.NewClient(u, false)
	check(sc.SetRootCAs(*ca))
	vc, err := vim25.NewClient(ctx, sc)
	check(err)
	rt := &counter{next: vc.RoundTripper}
	vc.RoundTripper = rt
	sm := session.NewManager(vc)
	check(sm.Login(ctx, url.UserPassword(*user, *pass)))
	defer func() { _ = sm.Logout(ctx) }()

	finder := find.NewFinder(vc, true)
	dc, err := finder.Datacenter(ctx, "DC0")
	check(err)
	finder.SetDatacenter(dc)
	folders, err := dc.Folders(ctx)
	check(err)
	pool, err := finder.ResourcePool(ctx, "/DC0/host/DC0_C0/Resources")
	check(err)
	netRef, err := finder.Network(ctx, "VM Network")
	check(err)
	backing, err := netRef.EthernetCardBackingInfo(ctx)
	check(err)

	totals := map[string]*phase{"create": {}, "reconfigure": {}, "destroy": {}}
	measure := func(name string, f func() error) {
		before, start := atomic.LoadInt64(&rt.n), time.Now()
		check(f())
		totals[name].Ms += float64(time.Since(start).Microseconds()) / 1000
		totals[name].RoundTrips += atomic.LoadInt64(&rt.n) - before
	}

	for i := 0; i < *n; i++ {
		var vm *object.VirtualMachine
		measure("create", func() error {
			task, err := folders.VmFolder.CreateVM(ctx, createSpec(fmt.Sprintf("%s-%d-%d", *prefix, os.Getpid(), i), backing), pool, nil)
			if err != nil {
				return err
			}
			info, err := task.WaitForResult(ctx, nil)
			if err != nil {
				return err
			}
			vm = object.NewVirtualMachine(vc, info.Result.(types.ManagedObjectReference))
			return nil
		})
		measure("reconfigure", func() error {
			task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{NumCPUs: 4, MemoryMB: 2048})
			if err != nil {
				return err
			}
			return task.Wait(ctx)
		})
		measure("destroy", func() error {
			task, err := vm.Destroy(ctx)
			if err != nil {
				return err
			}
			return task.Wait(ctx)
		})
	}
	out := map[string]interface{}{"cycles": *n, "phases": totals}
	check(json.NewEncoder(os.Stdout).Encode(out))
}

// createSpec mirrors the spec the TypeScript benchmark creates: 2 vCPU, 1 GiB,
// a paravirtual SCSI controller with one thin 1 GiB disk and one vmxnet3 NIC.
func createSpec(name string, backing types.BaseVirtualDeviceBackingInfo) types.VirtualMachineConfigSpec {
	add := types.VirtualDeviceConfigSpecOperationAdd
	thin := true
	return types.VirtualMachineConfigSpec{
		Name:     name,
		GuestId:  "otherGuest64",
		NumCPUs:  2,
		MemoryMB: 1024,
		Files:    &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{
			&types.VirtualDeviceConfigSpec{Operation: add, Device: &types.ParaVirtualSCSIController{
				VirtualSCSIController: types.VirtualSCSIController{
					SharedBus: types.VirtualSCSISharingNoSharing,
					VirtualController: types.VirtualController{
						BusNumber: 0, VirtualDevice: types.VirtualDevice{Key: -100},
					},
				},
			}},
			&types.VirtualDeviceConfigSpec{Operation: add, FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate,
				Device: &types.VirtualDisk{
					CapacityInKB: 1024 * 1024,
					VirtualDevice: types.VirtualDevice{
						Key: -101, ControllerKey: -100, UnitNumber: types.NewInt32(0),
						Backing: &types.VirtualDiskFlatVer2BackingInfo{
							DiskMode: string(types.VirtualDiskModePersistent), ThinProvisioned: &thin,
							VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[LocalDS_0]"},
						},
					},
				}},
			&types.VirtualDeviceConfigSpec{Operation: add, Device: &types.VirtualVmxnet3{
				VirtualVmxnet: types.VirtualVmxnet{
					VirtualEthernetCard: types.VirtualEthernetCard{
						VirtualDevice: types.VirtualDevice{Key: -102, Backing: backing},
						AddressType:   string(types.VirtualEthernetCardMacTypeGenerated),
					},
				},
			}},
		},
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
