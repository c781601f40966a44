package table

import (
	"cmp"
	"strconv"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

type eventPrinter struct{}

func (eventPrinter) columns(wide bool) []string {
	if wide {
		return []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE",
			"FIRST SEEN", "COUNT", "NAME"}
	}
	return []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"}
}

func (eventPrinter) row(obj api.Object, now time.Time, wide bool) []string {
	ev := obj.(*api.Event)
	first := age(ev.FirstTimestamp, now)
	if ev.FirstTimestamp.IsZero() {
		first = microAge(ev.EventTime, now)
	}
	last := age(ev.LastTimestamp, now)
	if ev.LastTimestamp.IsZero() {
		last = first
	}
	count := ev.Count
	if ev.Series != nil {
		last = microAge(ev.Series.LastObservedTime, now)
		count = ev.Series.Count
	} else if count == 0 {
		count = 1
	}
	object := strings.ToLower(ev.InvolvedObject.Kind)
	if ev.InvolvedObject.Name != "" {
		object += "/" + ev.InvolvedObject.Name
	}
	msg := strings.TrimSpace(ev.Message)
	if !wide {
		return []string{last, ev.Type, ev.Reason, object, msg}
	}
	return []string{last, ev.Type, ev.Reason, object, ev.InvolvedObject.FieldPath,
		eventSource(ev), msg, first, strconv.Itoa(int(count)), ev.Name}
}

// eventSource is `component, host`, falling back to the reporting
// controller and instance of events written by the newer API.
func eventSource(ev *api.Event) string {
	component := cmp.Or(ev.Source.Component, ev.ReportingController)
	instance := cmp.Or(ev.Source.Host, ev.ReportingInstance)
	if instance == "" {
		return component
	}
	return component + ", " + instance
}

func microAge(t api.MicroTime, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return HumanDuration(now.Sub(t.Time))
}
