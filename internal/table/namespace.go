package table

import (
	"time"

	"github.com/wasmlet/wasmlet/api"
)

type namespacePrinter struct{}

func (namespacePrinter) columns(bool) []string { return []string{"NAME", "STATUS", "AGE"} }

func (namespacePrinter) row(obj api.Object, now time.Time, _ bool) []string {
	ns := obj.(*api.Namespace)
	return []string{ns.Name, string(ns.Status.Phase), age(ns.CreationTimestamp, now)}
}
