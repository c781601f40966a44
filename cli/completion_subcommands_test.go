package cli

import (
	"strings"
	"testing"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
)

// TestCompleteSubcommands: rollout, set and create complete their
// subcommands first, then the kinds and names after them.
func TestCompleteSubcommands(t *testing.T) {
	app := (&environment{}).newApp()
	names := map[string][]string{"deployments": {"myweb", "other"}}
	lister := func(cmd *ucli.Command, flags []string, r *api.ResourceInfo) []string { return names[r.Resource] }
	for _, tt := range []struct{ words, want string }{
		{"rol", "rollout"},
		{"rollout _", "history pause restart resume status undo"},
		{"rollout re", "restart resume"},
		{"rollout status deploy _", "myweb other"},
		{"rollout undo deployment/m", "deployment/myweb"},
		{"rollout history deployment myweb _", "other"},
		{"set _", "image"},
		{"set image deployments m", "myweb"},
		{"create d", "deployment"},
		{"create deployment _", ""},
	} {
		words := strings.Fields(strings.ReplaceAll(tt.words, "_", " _"))
		if words[len(words)-1] == "_" {
			words[len(words)-1] = ""
		}
		got, _ := completeWords(app, words, lister)
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%q: %q, want %q", tt.words, strings.Join(got, " "), tt.want)
		}
	}
}
