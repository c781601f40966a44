package controller

import "github.com/wasmlet/wasmlet/api"

// defaultRC applies v1 defaulting to an RC: an empty selector and empty
// labels come from the template's labels, replicas from 1.
func defaultRC(rc *api.ReplicationController) {
	if len(rc.Spec.Selector) == 0 && rc.Spec.Template != nil {
		rc.Spec.Selector = rc.Spec.Template.Labels
	}
}
