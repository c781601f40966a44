package table

import (
	"strconv"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// secretPrinter is NAME TYPE DATA AGE: how many keys, never their values.
type secretPrinter struct{}

func (secretPrinter) columns(bool) []string { return []string{"NAME", "TYPE", "DATA", "AGE"} }

func (secretPrinter) row(obj api.Object, now time.Time, _ bool) []string {
	s := obj.(*api.Secret)
	return []string{s.Name, string(s.Type), strconv.Itoa(len(s.Data)), age(s.CreationTimestamp, now)}
}
