package cli

import (
	"strings"
	"testing"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
)

// TestCompleteCreateGenerators: after create come the kinds it generates,
// after create secret the secret's types.
func TestCompleteCreateGenerators(t *testing.T) {
	app := (&environment{}).newApp()
	lister := func(*ucli.Command, []string, *api.ResourceInfo) []string { return nil }
	for words, want := range map[string]string{
		"create _":             "configmap deployment namespace secret",
		"create c":             "configmap",
		"create secret _":      "docker-registry generic tls",
		"create secret g":      "generic",
		"create secret tls _":  "",
		"create configmap x _": "",
	} {
		w := strings.Fields(strings.ReplaceAll(words, "_", " _ "))
		for i := range w {
			if w[i] == "_" {
				w[i] = ""
			}
		}
		got, _ := completeWords(app, w, lister)
		if s := strings.Join(got, " "); s != want {
			t.Errorf("%q: got %q, want %q", words, s, want)
		}
	}
}
