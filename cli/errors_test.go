package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wasmlet/wasmlet/api"
)

func TestFormatError(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{api.NewNotFound("", "pods", "x"), `Error from server (NotFound): pods "x" not found`},
		{fmt.Errorf("getting: %w", api.NewAlreadyExists("apps", "replicasets", "rs")), `Error from server (AlreadyExists): replicasets.apps "rs" already exists`},
		{api.NewInvalid("apps", "ReplicaSet", "rs", api.ErrorList{api.Required("spec.selector", "")}),
			`The ReplicaSet "rs" is invalid: spec.selector: Required value`},
		{api.NewInvalid("", "Pod", "p", api.ErrorList{api.Required("spec.containers", ""), api.Invalid("metadata.name", "P", "bad")}),
			"The Pod \"p\" is invalid: \n* spec.containers: Required value\n* metadata.name: Invalid value: \"P\": bad"},
		{api.NewUnauthorized("Unauthorized"), "error: You must be logged in to the server (Unauthorized)"},
		{&api.Status{Message: "boom"}, "Error from server: boom"},
		{errors.New("no such file"), "error: no such file"},
		{errors.New("error: already worded"), "error: already worded"},
	}
	for _, tt := range tests {
		if got := formatError(tt.err); got != tt.want {
			t.Errorf("formatError(%v) =\n%q, want\n%q", tt.err, got, tt.want)
		}
	}
}
