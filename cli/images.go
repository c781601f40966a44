package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli/printers"
	"github.com/wasmlet/wasmlet/client"
	"github.com/wasmlet/wasmlet/host"
	"github.com/wasmlet/wasmlet/internal/table"
)

// imageFlags are the node's registry options, shared by serve and up.
func imageFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringSliceFlag{Name: "insecure-registry",
			Usage: "a registry (HOST:PORT) pulled from over plain HTTP although it is not on this machine (repeatable)"},
		&ucli.IntFlag{Name: "image-gc-high-threshold", Value: host.DefaultImageGCHighThreshold,
			Usage: "percent of the data dir's disk in use at which images no pod uses are removed (100: never)"},
		&ucli.IntFlag{Name: "image-gc-low-threshold", Value: host.DefaultImageGCLowThreshold,
			Usage: "percent of the disk in use that image garbage collection frees down to"},
	}
}

// imageOptions reads imageFlags.
func imageOptions(c *ucli.Context) (host.ImageOptions, error) {
	o := host.ImageOptions{
		InsecureRegistries:     c.StringSlice("insecure-registry"),
		GCHighThresholdPercent: c.Int("image-gc-high-threshold"),
		GCLowThresholdPercent:  c.Int("image-gc-low-threshold"),
	}
	for _, flag := range []string{"image-gc-high-threshold", "image-gc-low-threshold"} {
		if v := c.Int(flag); v < 1 || v > 100 {
			return o, fmt.Errorf("--%s: %d is not a percentage between 1 and 100", flag, v)
		}
	}
	if err := o.Validate(); err != nil {
		return o, fmt.Errorf("--image-gc-low-threshold: %w", err)
	}
	return o, nil
}

func (e *environment) imagesCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "images",
		Usage: "list the registry images the node holds and when each was last used, as crictl images does",
		Flags: append(clientFlags(),
			&ucli.BoolFlag{Name: "no-headers", Usage: "leave out the header line"},
			&ucli.BoolFlag{Name: "no-trunc", Usage: "print whole digests"},
		),
		Action: e.images,
	}
}

// imageLister is the client's way to the node proxy's list of images.
type imageLister interface {
	NodeImages(ctx context.Context, node string) ([]api.NodeImage, error)
}

// images prints one row per repository and tag of each image of each
// Node, with when it was last used, as the node answers GET
// /api/v1/nodes/{node}/proxy/images; from a node that does not answer it
// (an older one), the Node's status.images, whose LAST USED is unknown.
// An image pulled by digest alone has the tag <none>.
func (e *environment) images(c *ucli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", c.Args().Slice())
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	nodes, err := cl.List(c.Context, nodesResource(), "", client.ListOptions{})
	if err != nil {
		return err
	}
	var rows [][]string
	if !c.Bool("no-headers") {
		rows = append(rows, []string{"REPOSITORY", "TAG", "DIGEST", "SIZE", "LAST USED"})
	}
	now := e.now()
	lister, _ := cl.(imageLister)
	for _, o := range nodes {
		n, ok := o.(*api.Node)
		if !ok {
			continue
		}
		var list []api.NodeImage
		if lister != nil {
			list, err = lister.NodeImages(c.Context, n.Name)
		}
		if lister == nil || err != nil {
			list = nil
			for _, im := range n.Status.Images {
				list = append(list, api.NodeImage{Names: im.Names, SizeBytes: im.SizeBytes})
			}
		}
		for _, im := range list {
			repo, digest := "", ""
			var tags []string
			for _, name := range im.Names {
				if r, d, ok := strings.Cut(name, "@"); ok {
					repo, digest = r, d
				} else if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
					tags = append(tags, name[i+1:])
					if repo == "" {
						repo = name[:i]
					}
				}
			}
			if !c.Bool("no-trunc") {
				digest = shortDigest(digest)
			}
			if len(tags) == 0 {
				tags = []string{"<none>"}
			}
			used := "<unknown>"
			if !im.LastUsed.IsZero() {
				used = table.HumanDuration(now.Sub(im.LastUsed))
			}
			for _, tag := range tags {
				rows = append(rows, []string{repo, tag, digest, humanSize(im.SizeBytes), used})
			}
		}
	}
	return printers.NewRowWriter(e.stdout).WriteRows(rows)
}

// shortDigest is the first 12 hex digits of a digest, as docker prints an
// image ID.
func shortDigest(d string) string {
	h := d
	if i := strings.IndexByte(d, ':'); i >= 0 {
		h = d[i+1:]
	}
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// humanSize prints a size in decimal units with four significant digits,
// as docker and crictl print image sizes ("1.234MB").
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

func (e *environment) rmiCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "rmi",
		Usage:     "remove images from the node, as crictl rmi does; refused while a pod uses them",
		ArgsUsage: "IMAGE...",
		Flags: append(clientFlags(),
			&ucli.StringFlag{Name: "node", Usage: "the node to remove them from (default: the only one)"}),
		Action: e.rmi,
	}
}

// imageRemover is the client's way to the node proxy.
type imageRemover interface {
	RemoveImage(ctx context.Context, node, image string) (string, error)
}

// rmi asks the node, through the API server's node proxy
// (DELETE /api/v1/nodes/{node}/proxy/images?image=IMAGE), to remove each
// image: a repository:tag, repository@digest, or a digest or its prefix as
// `wasmlet images` prints it.
func (e *environment) rmi(c *ucli.Context) error {
	images := c.Args().Slice()
	if len(images) == 0 {
		return errors.New("rmi takes the images to remove: wasmlet rmi IMAGE...")
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	rm, ok := cl.(imageRemover)
	if !ok {
		return errors.New("this client cannot remove images")
	}
	node := c.String("node")
	if node == "" {
		nodes, err := cl.List(c.Context, nodesResource(), "", client.ListOptions{})
		if err != nil {
			return err
		}
		if len(nodes) != 1 {
			return fmt.Errorf("there are %d nodes: say which with --node", len(nodes))
		}
		node = nodes[0].GetObjectMeta().Name
	}
	var failed error
	for _, im := range images {
		msg, err := rm.RemoveImage(c.Context, node, im)
		if err != nil {
			fmt.Fprintln(e.stderr, formatError(err))
			failed = exitError{1}
			continue
		}
		fmt.Fprintln(e.stdout, msg)
	}
	return failed
}

func nodesResource() *api.ResourceInfo {
	r, _ := api.LookupResource("nodes")
	return r
}
