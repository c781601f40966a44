package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) kubeconfigCommand() *ucli.Command {
	return &ucli.Command{
		Name: "kubeconfig",
		Usage: "print the kubeconfig of the node the other verbs talk to, or of the node in --data-dir " +
			"(wasmlet kubeconfig > n1.kubeconfig; kubectl --kubeconfig n1.kubeconfig get pods)",
		Flags: []ucli.Flag{&ucli.StringFlag{Name: "data-dir",
			Usage: "the node's directory (default: $KUBECONFIG's node, then the node started last that still runs, then " + client.DefaultDataDir() + ")"}},
		Action: func(c *ucli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("unexpected arguments: %v", c.Args().Slice())
			}
			var path string
			if dir := c.String("data-dir"); dir != "" {
				path = filepath.Join(dir, "kubeconfig.yaml")
			} else {
				explicit := ""
				if k := e.env("KUBECONFIG"); k != "" {
					explicit = filepath.SplitList(k)[0]
				}
				var err error
				if path, err = e.findKubeconfig(c.Context, explicit); err != nil {
					return err
				}
			}
			b, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no kubeconfig at %s: start a node first with 'wasmlet serve --data-dir %s'", path, filepath.Dir(path))
			}
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		},
	}
}

func dataDirFlag() ucli.Flag {
	return &ucli.StringFlag{Name: "data-dir", Value: client.DefaultDataDir(),
		Usage: "the node's directory: store, TLS material, kubeconfig, logs, volumes"}
}
