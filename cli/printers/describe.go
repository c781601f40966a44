package printers

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/table"
)

// DescribeInput is what `describe` shows of one object besides the object
// itself: the events about it, and the pods a controller or a node counts.
type DescribeInput struct {
	// Object is the object described; Resource is its kind.
	Resource *api.ResourceInfo
	Object   api.Object
	// ShowEvents adds the Events section (kubectl shows it when one object
	// is described); Events are the events whose involvedObject is Object,
	// in any order.
	ShowEvents bool
	Events     []api.Event
	// Pods are, for a ReplicaSet or ReplicationController, the pods its
	// selector matches (those it does not own are not counted), and for a
	// node, the pods bound to it.
	Pods []*api.Pod
	// ReplicaSets are, for a Deployment, the ReplicaSets it controls.
	ReplicaSets []*api.ReplicaSet
	// Endpoints are, for a Service, its Endpoints.
	Endpoints *api.Endpoints
	// Now is the time ages are measured to; its location is the one times
	// are printed in.
	Now time.Time
}

// Describe writes kubectl's description of in.Object: the layout of
// `kubectl describe`, aligned as kubectl's tabwriter aligns it. Kinds
// without a layout of their own get kubectl's generic one, every field of
// the object by name.
func Describe(w io.Writer, in DescribeInput) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	d := &describer{tw: tw, now: in.Now}
	switch obj := in.Object.(type) {
	case *api.Pod:
		d.pod(obj)
	case *api.ReplicaSet:
		d.replicaSet(obj, CountPods(in.Pods, obj.UID))
	case *api.ReplicationController:
		d.replicationController(obj, CountPods(in.Pods, obj.UID))
	case *api.Deployment:
		d.deployment(obj, in.ReplicaSets)
	case *api.Node:
		d.node(obj, in.Pods)
	case *api.ConfigMap:
		d.configMap(obj)
	case *api.Service:
		d.service(obj, in.Endpoints)
	case *api.Endpoints:
		d.endpoints(obj)
	case *api.Secret:
		// kubectl shows no events for a secret.
		d.secret(obj)
		return tw.Flush()
	case *api.Namespace:
		// kubectl shows no events for a namespace.
		d.namespace(obj)
		return tw.Flush()
	default:
		if err := d.generic(in.Object); err != nil {
			return err
		}
	}
	if in.ShowEvents {
		d.events(in.Events)
	}
	return tw.Flush()
}

// describer writes the lines of one description. Lines are indented by
// level, two spaces a level, and cells end in tabs, which the tabwriter
// aligns.
type describer struct {
	tw  io.Writer // a tabwriter, but for the raw template of rollout history
	now time.Time
}

func (d *describer) line(level int, format string, args ...any) {
	fmt.Fprintf(d.tw, strings.Repeat("  ", level)+format, args...)
}

// raw writes s as it is, at level 0 (parts of a line).
func (d *describer) raw(s string) { io.WriteString(d.tw, s) }

// timestamp is kubectl's time format of describe (RFC 1123 with a numeric
// zone), in the zone of now.
func (d *describer) timestamp(t time.Time) string {
	return t.In(d.now.Location()).Format(time.RFC1123Z)
}

// since is the age of t, or `<unknown>` for a zero time.
func (d *describer) since(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return table.HumanDuration(d.now.Sub(t))
}

// labels is `Title:` and then one key=value a line, sorted, aligned on the
// first; `<none>` when there are none.
func (d *describer) labels(title string, labels map[string]string) {
	d.raw(title + ":\t")
	if len(labels) == 0 {
		d.raw("<none>\n")
		return
	}
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			d.raw("\t")
		}
		d.raw(k + "=" + labels[k] + "\n")
	}
}

// lastApplied is left out of Annotations: it repeats the object.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// maxAnnotationLen is where kubectl starts folding an annotation onto lines
// of its own.
const maxAnnotationLen = 140

// annotations is `Title:` and one annotation a line; long or multi-line
// values go below their key, each line cut at 138 characters.
func (d *describer) annotations(title string, annotations map[string]string) {
	d.raw(title + ":\t")
	var keys []string
	for k := range annotations {
		if k != lastApplied {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		d.raw("<none>\n")
		return
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			d.raw("\t")
		}
		v := strings.TrimSuffix(annotations[k], "\n")
		if len(v)+len(k)+2 > maxAnnotationLen || strings.Contains(v, "\n") {
			d.raw(k + ":\n")
			for _, s := range strings.Split(v, "\n") {
				if len(s) > maxAnnotationLen-2 {
					s = s[:maxAnnotationLen-2] + "..."
				}
				d.raw("\t  " + s + "\n")
			}
			continue
		}
		d.raw(k + ": " + v + "\n")
	}
}

// events is the Events table: oldest first, `3m (x4 over 10m)` for
// repeated events. It is aligned on its own, as kubectl flushes its writer
// before it.
func (d *describer) events(events []api.Event) {
	if len(events) == 0 {
		d.line(0, "Events:\t<none>\n")
		return
	}
	if f, ok := d.tw.(interface{ Flush() error }); ok {
		f.Flush()
	}
	sorted := slices.Clone(events)
	sort.SliceStable(sorted, func(i, j int) bool {
		return eventTime(&sorted[i]).Before(eventTime(&sorted[j]))
	})
	d.line(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
	d.line(1, "----\t------\t----\t----\t-------\n")
	for i := range sorted {
		e := &sorted[i]
		first := d.since(e.EventTime.Time)
		if e.EventTime.IsZero() {
			first = d.since(e.FirstTimestamp.Time)
		}
		interval := first
		switch {
		case e.Series != nil:
			interval = fmt.Sprintf("%s (x%d over %s)", d.since(e.Series.LastObservedTime.Time), e.Series.Count, first)
		case e.Count > 1:
			interval = fmt.Sprintf("%s (x%d over %s)", d.since(e.LastTimestamp.Time), e.Count, first)
		}
		source := cmp.Or(e.Source.Component, e.ReportingController)
		msg := strings.TrimSpace(e.Message)
		if e.InvolvedObject.FieldPath != "" {
			msg = e.InvolvedObject.FieldPath + ": " + msg
		}
		d.line(1, "%s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, interval, source, msg)
	}
}

// eventTime is when an event last happened, whichever API wrote it.
func eventTime(e *api.Event) time.Time {
	switch {
	case e.Series != nil:
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	}
	return e.EventTime.Time
}

// namespace is kubectl's description of a namespace. The node serves no
// resource quotas or limit ranges, and kubectl leaves their sections out
// for a server that does not serve them.
func (d *describer) namespace(ns *api.Namespace) {
	d.line(0, "Name:\t%s\n", ns.Name)
	d.labels("Labels", ns.Labels)
	d.annotations("Annotations", ns.Annotations)
	d.line(0, "Status:\t%s\n", ns.Status.Phase)
}

// generic is kubectl's description of a kind it has no layout for: name,
// namespace, labels and annotations, then every other field of the object
// with its name spelled out ("involvedObject" is "Involved Object").
func (d *describer) generic(obj api.Object) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var content map[string]any
	if err := dec.Decode(&content); err != nil {
		return err
	}
	if r, ok := api.ResourceOf(obj); ok {
		if _, set := content["kind"]; !set {
			content["kind"] = r.Kind
		}
		if _, set := content["apiVersion"]; !set {
			content["apiVersion"] = r.APIVersion()
		}
	}
	m := obj.GetObjectMeta()
	d.line(0, "Name:\t%s\n", m.Name)
	d.line(0, "Namespace:\t%s\n", m.Namespace)
	d.labels("Labels", m.Labels)
	d.annotations("Annotations", m.Annotations)
	d.content(0, content, "", ".metadata.managedFields", ".metadata.name", ".metadata.namespace",
		".metadata.labels", ".metadata.annotations")
	return nil
}

func (d *describer) content(level int, content map[string]any, path string, skip ...string) {
	for _, field := range slices.Sorted(maps.Keys(content)) {
		p := path + "." + field
		if slices.Contains(skip, p) {
			continue
		}
		switch v := content[field].(type) {
		case map[string]any:
			d.line(level, "%s:\n", fieldLabel(field))
			d.content(level+1, v, p, skip...)
		case []any:
			d.line(level, "%s:\n", fieldLabel(field))
			for _, item := range v {
				if m, ok := item.(map[string]any); ok {
					d.content(level+1, m, p, skip...)
				} else {
					d.line(level+1, "%v\n", scalar(item))
				}
			}
		default:
			d.line(level, "%s:\t%v\n", fieldLabel(field), scalar(v))
		}
	}
}

// scalar prints a JSON value as kubectl prints an unstructured one: null
// is `<nil>`.
func scalar(v any) any {
	if v == nil {
		return "<nil>"
	}
	return v
}

// fieldLabel spells a JSON field name as kubectl's describe does:
// "creationTimestamp" is "Creation Timestamp", "uid" is "UID". Names with
// characters other than letters and '-' are left alone.
func fieldLabel(field string) string {
	if strings.IndexFunc(field, func(r rune) bool { return !unicode.IsLetter(r) && r != '-' }) >= 0 {
		return field
	}
	words := camelWords(field)
	out := make([]string, 0, len(words))
	for _, w := range words {
		switch up := strings.ToUpper(w); {
		case up == "API" || up == "URL" || up == "UID" || up == "GUID":
			w = up
		case strings.ToLower(w) == w:
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

// camelWords splits "apiVersion" into "api", "Version": a word starts at
// an upper-case letter after a lower-case one, and a run of capitals gives
// its last capital to the lower-case run that follows ("HTTPGet" is
// "HTTP", "Get"; "podIPs" is "pod", "I", "Ps", which kubectl prints as
// "Pod I Ps").
func camelWords(s string) []string {
	rs := []rune(s)
	var words []string
	start := 0
	for i := 1; i < len(rs); i++ {
		prev, cur := rs[i-1], rs[i]
		switch {
		case unicode.IsLower(prev) && unicode.IsUpper(cur):
			words = append(words, string(rs[start:i]))
			start = i
		case unicode.IsUpper(prev) && unicode.IsUpper(cur) && i+1 < len(rs) && unicode.IsLower(rs[i+1]):
			words = append(words, string(rs[start:i]))
			start = i
		}
	}
	return append(words, string(rs[start:]))
}

// orNone is s, or `<none>` when s is empty.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
