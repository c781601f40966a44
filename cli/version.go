package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/internal/version"
)

func (e *environment) versionCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "version",
		Usage: "print the client's version and, when a node is reachable, the server's",
		Flags: append(clientFlags(),
			&ucli.BoolFlag{Name: "client", Usage: "print the client's version only"}),
		Action: func(c *ucli.Context) error {
			fmt.Fprintf(e.stdout, "Client Version: %s\n", version.Version)
			fmt.Fprintf(e.stdout, "Kubernetes Version: %s\n", version.KubernetesCompat)
			if c.Bool("client") {
				return nil
			}
			cl, err := e.connect(c)
			if err != nil {
				return nil
			}
			v, err := cl.ServerVersion(c.Context)
			if err != nil {
				return nil
			}
			fmt.Fprintf(e.stdout, "Server Version: %s\n", v.GitVersion)
			return nil
		},
	}
}
