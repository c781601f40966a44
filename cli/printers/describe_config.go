package printers

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/wasmlet/wasmlet/api"
)

// configMap is kubectl's description of a ConfigMap: every value of data
// under its key, and only the size of each value of binaryData. Keys are
// sorted, as kubectl sorts them since 1.34 (1.32 prints them in map order).
func (d *describer) configMap(cm *api.ConfigMap) {
	d.line(0, "Name:\t%s\n", cm.Name)
	d.line(0, "Namespace:\t%s\n", cm.Namespace)
	d.labels("Labels", cm.Labels)
	d.annotations("Annotations", cm.Annotations)
	d.raw("\nData\n====\n")
	for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
		d.raw(k + ":\n----\n" + terminalEscaper.Replace(cm.Data[k]) + "\n\n")
	}
	d.raw("\nBinaryData\n====\n")
	for _, k := range slices.Sorted(maps.Keys(cm.BinaryData)) {
		d.raw(k + ": " + strconv.Itoa(len(cm.BinaryData[k])) + " bytes\n")
	}
	d.raw("\n")
}

// terminalEscaper makes a value's escape sequences and carriage returns
// visible rather than acted on by the terminal, as kubectl's describe
// does (kubernetes/kubernetes#101695): ESC becomes ^[ and CR \r.
var terminalEscaper = strings.NewReplacer("\x1b", "^[", "\r", "\\r")

// secret is kubectl's description of a Secret: its type and the size of
// each value, never a value.
func (d *describer) secret(s *api.Secret) {
	d.line(0, "Name:\t%s\n", s.Name)
	d.line(0, "Namespace:\t%s\n", s.Namespace)
	d.labels("Labels", s.Labels)
	d.annotations("Annotations", s.Annotations)
	d.raw("\nType:\t" + string(s.Type) + "\n")
	d.raw("\nData\n====\n")
	for _, k := range slices.Sorted(maps.Keys(s.Data)) {
		d.raw(k + ":\t" + strconv.Itoa(len(s.Data[k])) + " bytes\n")
	}
}
