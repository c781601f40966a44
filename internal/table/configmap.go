package table

import (
	"strconv"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// configMapPrinter is NAME DATA AGE; DATA counts the keys of data and
// binaryData together, as Kubernetes' printer does.
type configMapPrinter struct{}

func (configMapPrinter) columns(bool) []string { return []string{"NAME", "DATA", "AGE"} }

func (configMapPrinter) row(obj api.Object, now time.Time, _ bool) []string {
	cm := obj.(*api.ConfigMap)
	return []string{cm.Name, strconv.Itoa(len(cm.Data) + len(cm.BinaryData)), age(cm.CreationTimestamp, now)}
}
