package api

import "math/big"

// qosResources are the resources a pod's quality of service is computed
// from, as Kubernetes computes it: cpu and memory, never ephemeral storage
// or extended resources.
var qosResources = [...]ResourceName{ResourceCPU, ResourceMemory}

// GetPodQOS is the pod's quality of service class: the one stored in its
// status, which is set when the pod is created and never changes after,
// else the one its spec gives (ComputePodQOS).
func GetPodQOS(pod *Pod) PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	return ComputePodQOS(&pod.Spec)
}

// ComputePodQOS is the quality of service class that the cpu and memory
// requests and limits of a pod's containers and init containers give it,
// by Kubernetes' rules:
//
//   - BestEffort: no container requests or limits cpu or memory;
//   - Guaranteed: every container limits both cpu and memory, and for each
//     of them the requests of all containers add up to their limits;
//   - Burstable: anything else.
//
// A request left out is its limit, as defaulting makes it, so that the
// class of a spec is the same before and after defaulting. Only positive
// quantities count. Ephemeral containers have no resources and do not
// count.
func ComputePodQOS(spec *PodSpec) PodQOSClass {
	requests := map[ResourceName]*big.Int{}
	limits := map[ResourceName]*big.Int{}
	add := func(sums map[ResourceName]*big.Int, name ResourceName, n *big.Int) {
		if s, ok := sums[name]; ok {
			s.Add(s, n)
		} else {
			sums[name] = new(big.Int).Set(n)
		}
	}
	guaranteed := true
	for _, list := range [...][]Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			res := &list[i].Resources
			limited := 0
			for _, name := range qosResources {
				lim, hasLim := res.Limits[name]
				req, hasReq := res.Requests[name]
				if !hasReq {
					req, hasReq = lim, hasLim
				}
				if hasReq {
					if n := req.nano(); n.Sign() > 0 {
						add(requests, name, n)
					}
				}
				if hasLim {
					if n := lim.nano(); n.Sign() > 0 {
						add(limits, name, n)
						limited++
					}
				}
			}
			if limited < len(qosResources) {
				guaranteed = false
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return PodQOSBestEffort
	}
	if guaranteed && len(requests) == len(limits) {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
		if guaranteed {
			return PodQOSGuaranteed
		}
	}
	return PodQOSBurstable
}
