package cli

import (
	"context"

	"github.com/wasmlet/wasmlet/api"
)

// endpointsOf is the Endpoints of s, which kubectl's describe shows under
// each port; none is nil.
func endpointsOf(ctx context.Context, cl nodeClient, s *api.Service) (*api.Endpoints, error) {
	res, ok := api.LookupResource("endpoints")
	if !ok {
		return nil, nil
	}
	o, err := cl.Get(ctx, res, s.Namespace, s.Name)
	if err != nil {
		return nil, nil // kubectl describes the Service without them
	}
	ep, _ := o.(*api.Endpoints)
	return ep, nil
}
