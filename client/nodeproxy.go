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

// NodeImages lists the images node holds, through the API server's proxy
// to the node (GET /api/v1/nodes/{node}/proxy/images), with their times
// of last use.
func (c *Client) NodeImages(ctx context.Context, node string) ([]api.NodeImage, error) {
	var list api.NodeImageList
	if err := c.doJSON(ctx, http.MethodGet, "/api/v1/nodes/"+node+"/proxy/images", nil, "", nil, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}
