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
		Name:  "kubeconfig",
		Usage: "print the kubeconfig of the node in a data dir (kubectl --kubeconfig <(wasmlet kubeconfig) get pods)",
		Flags: []ucli.Flag{dataDirFlag()},
		Action: func(c *ucli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("unexpected arguments: %v", c.Args().Slice())
			}
			path := filepath.Join(c.String("data-dir"), "kubeconfig.yaml")
			b, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no kubeconfig at %s: start a node first with 'wasmlet serve --data-dir %s'", path, c.String("data-dir"))
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
