package cli

import (
	"errors"
	"fmt"
	"os"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/oci"
)

func (e *environment) pushCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "push",
		Usage:     "publish a WebAssembly module to an OCI registry, as a wasm artifact",
		ArgsUsage: "FILE REGISTRY/NAME:TAG",
		Flags: []ucli.Flag{
			&ucli.StringSliceFlag{Name: "insecure-registry", Usage: "a registry (HOST:PORT) reached over plain HTTP although it is not on this machine"},
		},
		Action: e.push,
	}
}

// push sends a module to a registry from this machine; the node is not
// involved. Credentials are the Docker-style ones (~/.docker/config.json).
func (e *environment) push(c *ucli.Context) error {
	args := c.Args().Slice()
	if len(args) != 2 {
		return errors.New("push takes a module file and an image: wasmlet push FILE REGISTRY/NAME:TAG")
	}
	file, image := args[0], args[1]
	if reg, err := api.IsRegistryImage(image); err != nil || !reg {
		if err == nil {
			err = fmt.Errorf("%q names a file, not a registry image (REGISTRY/NAME:TAG)", image)
		}
		return err
	}
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", file)
	}
	module, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if len(module) < 8 || string(module[:4]) != "\x00asm" {
		return fmt.Errorf("%s is not a WebAssembly module (it does not begin with \\0asm)", file)
	}
	p := &oci.Puller{Insecure: c.StringSlice("insecure-registry")}
	digest, err := p.Push(c.Context, module, image)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s pushed: %s (%d bytes)\n", image, digest, len(module))
	return nil
}
