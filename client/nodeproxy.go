package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/wasmlet/wasmlet/api"
)

// RemoveImage asks node to remove image, through the API server's proxy to
// the node (DELETE /api/v1/nodes/{node}/proxy/images?image=IMAGE), and
// returns what the node answered ("Deleted: …").
func (c *Client) RemoveImage(ctx context.Context, node, image string) (string, error) {
	var st api.Status
	err := c.doJSON(ctx, http.MethodDelete, "/api/v1/nodes/"+node+"/proxy/images", url.Values{"image": {image}}, "", nil, &st)
	if err != nil {
		return "", err
	}
	return st.Message, nil
}
