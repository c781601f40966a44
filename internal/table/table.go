// Package table is Kubernetes' server-side printing: for each kind, the
// columns of its Table and the cells of an object's row, as a cluster's
// API server fills them (`kubectl get` prints them). The API server
// serves them as meta.k8s.io Tables and the CLI prints them, so both show
// the same thing.
//
// Cells are pure functions of the object and the time ages are measured
// to (`now`). The package never writes output, aligns text or talks to a
// node: that is the printers' work.
package table

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// Columns are the headers of kind r's Table: the narrow set, or with wide
// also those of `-o wide`. A kind without columns of its own has NAME AGE.
func Columns(r *api.ResourceInfo, wide bool) []string {
	return printerFor(r).columns(wide)
}

// Cells is obj's row (obj is of kind r), one cell per column of
// Columns(r, wide), with ages measured to now.
func Cells(r *api.ResourceInfo, obj api.Object, now time.Time, wide bool) []string {
	return printerFor(r).row(obj, now, wide)
}

// FormatLabels is `a=b,c=d` with keys sorted, or `<none>`.
func FormatLabels(labels map[string]string) string {
	if len(labels) == 0 {
		return "<none>"
	}
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

// kindPrinter knows one kind's columns.
type kindPrinter interface {
	columns(wide bool) []string
	row(obj api.Object, now time.Time, wide bool) []string
}

func printerFor(r *api.ResourceInfo) kindPrinter {
	if p, ok := kindPrinters[r.Kind]; ok {
		return p
	}
	return defaultPrinter{}
}

var kindPrinters = map[string]kindPrinter{
	"Pod":                   podPrinter{},
	"ReplicaSet":            replicaSetPrinter{},
	"Deployment":            deploymentPrinter{},
	"ReplicationController": replicationControllerPrinter{},
	"Event":                 eventPrinter{},
	"Namespace":             namespacePrinter{},
	"ConfigMap":             configMapPrinter{},
	"Secret":                secretPrinter{},
	"Node":                  nodePrinter{},
	"Service":               servicePrinter{},
	"Endpoints":             endpointsPrinter{},
	"EndpointSlice":         endpointSlicePrinter{},
}

type defaultPrinter struct{}

func (defaultPrinter) columns(bool) []string { return []string{"NAME", "AGE"} }

func (defaultPrinter) row(obj api.Object, now time.Time, _ bool) []string {
	m := obj.GetObjectMeta()
	return []string{m.Name, age(m.CreationTimestamp, now)}
}

// orNone is s, or `<none>` when s is empty.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
