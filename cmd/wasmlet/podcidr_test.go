package main

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// podCIDRs hands each node a test starts a /24 of 127.45.0.0/16 of its own:
// the end-to-end tests run in parallel, and two nodes on one range would
// bind the same pod IPs. The first is random, so that test processes
// running at once rarely meet.
var podCIDRs struct {
	sync.Mutex
	next int
}

func podCIDR() string {
	podCIDRs.Lock()
	defer podCIDRs.Unlock()
	if podCIDRs.next == 0 {
		podCIDRs.next = 1 + rand.IntN(254)
	}
	n := podCIDRs.next
	podCIDRs.next = 1 + podCIDRs.next%254
	return fmt.Sprintf("127.45.%d.0/24", n)
}
