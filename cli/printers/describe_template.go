package printers

import (
	"io"

	"github.com/wasmlet/wasmlet/api"
)

// DescribePodTemplate writes the Pod Template section of a description as
// `kubectl rollout history --revision=N` and `rollout undo
// --dry-run=client` print it: not aligned, each label and its value
// separated by a tab.
func DescribePodTemplate(w io.Writer, t *api.PodTemplateSpec) {
	d := &describer{tw: w}
	d.podTemplate(t)
}
