package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// WriteOptions are the options kubectl gives a write.
type WriteOptions struct {
	// FieldValidation says what the node does with a field the kind does
	// not have: api.FieldValidationStrict refuses the write (kubectl's
	// default, --validate=strict), Warn drops it with a warning, Ignore
	// drops it; "" leaves it to the node, which warns.
	FieldValidation api.FieldValidation
	// DryRun asks the node to run every check of the write and store
	// nothing (dryRun=All): the answer is the object as it would be stored.
	DryRun bool
}

func (o WriteOptions) query() url.Values {
	q := url.Values{}
	if o.FieldValidation != "" {
		q.Set("fieldValidation", string(o.FieldValidation))
	}
	if o.DryRun {
		q.Set("dryRun", "All")
	}
	return q
}

// CreateJSON creates an object of r from its JSON as a manifest states it:
// the node decodes it, so an unknown field meets o.FieldValidation there,
// as it does when kubectl sends a file.
func (c *Client) CreateJSON(ctx context.Context, r *api.ResourceInfo, namespace string, body []byte, o WriteOptions) (api.Object, error) {
	return c.objectRequest(ctx, r, http.MethodPost, resourcePath(r, c.ns(r, namespace), "", ""), o.query(), "application/json", body)
}

// UpdateJSON replaces the object name of r with body, the object's JSON as
// a manifest states it (see CreateJSON).
func (c *Client) UpdateJSON(ctx context.Context, r *api.ResourceInfo, namespace, name string, body []byte, o WriteOptions) (api.Object, error) {
	return c.objectRequest(ctx, r, http.MethodPut, resourcePath(r, c.ns(r, namespace), name, ""), o.query(), "application/json", body)
}

// PatchWith is Patch with write options.
func (c *Client) PatchWith(ctx context.Context, r *api.ResourceInfo, namespace, name string, pt PatchType, data []byte, o WriteOptions) (api.Object, error) {
	return c.objectRequest(ctx, r, http.MethodPatch, resourcePath(r, c.ns(r, namespace), name, ""), o.query(), string(pt), data)
}

// SetRequestTimeout bounds every request that is answered at once to d,
// and asks the node to end a watch after d (kubectl's --request-timeout);
// 0 is no bound. It must be set before the client is used.
func (c *Client) SetRequestTimeout(d time.Duration) { c.timeout = d }

// OnWarning makes f receive the text of every warning the node sends with
// an answer (a Warning header, "299 - \"text\""), as kubectl prints them
// after "Warning: ". It must be set before the client is used.
func (c *Client) OnWarning(f func(text string)) { c.warn = f }

// warnings hands the Warning headers of resp to the client's handler.
func (c *Client) warnings(resp *http.Response) {
	if c.warn == nil {
		return
	}
	for _, h := range resp.Header.Values("Warning") {
		// 299 - "text"
		code, rest, _ := strings.Cut(h, " ")
		_, text, ok := strings.Cut(rest, " ")
		if code != "299" || !ok {
			continue
		}
		if text, err := strconv.Unquote(text); err == nil {
			c.warn(text)
		}
	}
}
