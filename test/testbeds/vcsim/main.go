// vcsim for NovaCron's vSphere tests: Debian ships govmomi's simulator
// package but no vcsim binary, so we build this small main with Debian's Go.
package main

import (
	"crypto/tls"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator" // REST: sessions, tags, content library
	"github.com/vmware/govmomi/vim25/types"
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func main() {
	listen := flag.String("l", "127.0.0.1:18989", "listen address (loopback only)")
	user := flag.String("username", envOr("VCSIM_USERNAME", "novacron"), "login user")
	pass := flag.String("password", envOr("VCSIM_PASSWORD", "novacron-pw"), "login password")
	useTLS := flag.Bool("tls", true, "serve https, like a real vCenter")
	certOut := flag.String("cert-out", "", "write the server certificate (PEM) here, for CA-pinning tests")
	flag.Parse()

	// One datacenter: a 3-host cluster (vMotion targets), one standalone host,
	// two datastores (storage vMotion) and a distributed portgroup next to "VM Network".
	model := simulator.VPX()
	model.Datacenter, model.Cluster, model.ClusterHost, model.Host = 1, 1, 3, 1
	model.Datastore, model.Portgroup, model.Pool, model.Machine = 2, 1, 0, 0
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	// The simulator leaves HostSystem.capability unset; a real ESXi always reports
	// it and the driver's capability checks read it, so give hosts plausible values.
	yes := types.NewBool(true)
	for _, e := range simulator.Map.All("HostSystem") {
		e.(*simulator.HostSystem).Capability = &types.HostCapability{
			VmotionSupported: true, StorageVMotionSupported: yes, NestedHVSupported: yes,
			TpmSupported: yes, CloneFromSnapshotSupported: yes, MaxSupportedVcpus: 768,
			MaxRunningVMs: 1024, MaintenanceModeSupported: true, ShutdownSupported: true,
		}
	}
	simulatePassthrough()
	simulatePortgroupUpdates()
	model.Service.RegisterEndpoints = true
	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, *pass)}
	if *useTLS {
		cert, err := selfSignedCert()
		if err != nil {
			log.Fatal(err)
		}
		model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	server := model.Service.NewServer()
	go simulateTools(20 * time.Millisecond)
	if *useTLS && *certOut != "" {
		block := &pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw}
		if err := os.WriteFile(*certOut, pem.EncodeToMemory(block), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	printed := *server.URL
	printed.User = nil // credentials go to the caller through flags/env, not stdout
	fmt.Printf("url=%s\n", printed.String())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	server.Close()
	model.Remove()
}
