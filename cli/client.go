package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

// nodeClient is what the verbs ask of a node. It is the client package's
// Client; the verbs name only this much of it so that tests can see at a
// glance what the CLI depends on.
type nodeClient interface {
	Get(ctx context.Context, r *api.ResourceInfo, namespace, name string) (api.Object, error)
	List(ctx context.Context, r *api.ResourceInfo, namespace string, opts client.ListOptions) ([]api.Object, error)
	Create(ctx context.Context, obj api.Object) (api.Object, error)
	CreateJSON(ctx context.Context, r *api.ResourceInfo, namespace string, body []byte, o client.WriteOptions) (api.Object, error)
	Update(ctx context.Context, obj api.Object) (api.Object, error)
	UpdateJSON(ctx context.Context, r *api.ResourceInfo, namespace, name string, body []byte, o client.WriteOptions) (api.Object, error)
	Patch(ctx context.Context, r *api.ResourceInfo, namespace, name string, pt client.PatchType, data []byte) (api.Object, error)
	PatchWith(ctx context.Context, r *api.ResourceInfo, namespace, name string, pt client.PatchType, data []byte, o client.WriteOptions) (api.Object, error)
	Delete(ctx context.Context, r *api.ResourceInfo, namespace, name string, opts client.DeleteOptions) error
	GetScale(ctx context.Context, r *api.ResourceInfo, namespace, name string) (*api.Scale, error)
	UpdateScale(ctx context.Context, r *api.ResourceInfo, namespace, name string, s *api.Scale) (*api.Scale, error)
	ServerVersion(ctx context.Context) (*api.VersionInfo, error)
	Logs(ctx context.Context, namespace, pod string, opts client.LogOptions, w io.Writer) error
}

// clientFlags are the flags of every verb that talks to a node.
func clientFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "kubeconfig", Usage: "path to the kubeconfig file (default: $KUBECONFIG, then the node started last that still runs, then the default data dir's)"},
		&ucli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Usage: "the namespace of the request"},
		&ucli.StringFlag{Name: "request-timeout", Value: "0",
			Usage: "how long to wait for an answer of the node (1s, 2m, 3h; a bare number is seconds; 0 waits for ever); a watch ends after it"},
	}
}

// requestTimeout parses --request-timeout as kubectl does.
func requestTimeout(c *ucli.Context) (time.Duration, error) {
	s := c.String("request-timeout")
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	return 0, errors.New("Invalid timeout value. Timeout must be a single integer in seconds, or an integer followed by a corresponding time unit (e.g. 1s | 2m | 3h)")
}

// allNamespacesFlag is -A of the verbs that can span namespaces.
var allNamespacesFlag = &ucli.BoolFlag{Name: "all-namespaces", Aliases: []string{"A"},
	Usage: "across all namespaces; a namespace given with -n is ignored"}

// kubeconfigPath is the kubeconfig the flags or the environment name:
// --kubeconfig, then $KUBECONFIG (its first entry); "" when neither does.
func (e *environment) kubeconfigPath(c *ucli.Context) string {
	if p := c.String("kubeconfig"); p != "" {
		return p
	}
	if p := e.env("KUBECONFIG"); p != "" {
		return filepath.SplitList(p)[0]
	}
	return ""
}

func (e *environment) env(key string) string { return e.getenv(key) }

// connect returns a client for the node the flags point at.
func (e *environment) connect(c *ucli.Context) (nodeClient, error) {
	timeout, err := requestTimeout(c)
	if err != nil {
		return nil, err
	}
	if e.dial != nil {
		return e.dial(e.kubeconfigPath(c))
	}
	path, err := e.findKubeconfig(c.Context, e.kubeconfigPath(c))
	if err != nil {
		return nil, err
	}
	cl, err := client.FromKubeconfig(path)
	if err != nil {
		return nil, err
	}
	cl.SetRequestTimeout(timeout)
	// The node's warnings (fields of a file it does not implement or
	// know) are printed as kubectl prints them.
	cl.OnWarning(func(text string) { fmt.Fprintf(e.stderr, "Warning: %s\n", text) })
	return cl, nil
}

// namespace is -n, or `default`.
func namespace(c *ucli.Context) string {
	if ns := c.String("namespace"); ns != "" {
		return ns
	}
	return "default"
}
