package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/wasmlet/wasmlet/api"
)

// dryRunAll asks the node to run every check of a write and store
// nothing.
var dryRunAll = url.Values{"dryRun": {"All"}}

// CreateDryRun returns the object as the node would store it, without
// storing it (dryRun=All): defaulted, validated, with its generated
// fields.
func (c *Client) CreateDryRun(ctx context.Context, obj api.Object) (api.Object, error) {
	r, err := resourceOf(obj)
	if err != nil {
		return nil, err
	}
	body, err := encode(r, obj)
	if err != nil {
		return nil, err
	}
	ns := c.ns(r, obj.GetObjectMeta().Namespace)
	return c.objectRequest(ctx, r, http.MethodPost, resourcePath(r, ns, "", ""), dryRunAll, "application/json", body)
}

// PatchDryRun returns the object as a patch would leave it, without
// storing it (dryRun=All).
func (c *Client) PatchDryRun(ctx context.Context, r *api.ResourceInfo, namespace, name string, pt PatchType, data []byte) (api.Object, error) {
	return c.objectRequest(ctx, r, http.MethodPatch, resourcePath(r, c.ns(r, namespace), name, ""), dryRunAll, string(pt), data)
}
