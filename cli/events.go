package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli/printers"
	"github.com/wasmlet/wasmlet/client"
	"github.com/wasmlet/wasmlet/internal/table"
)

func (e *environment) eventsCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "events",
		Usage: "list events, oldest first",
		Flags: append(clientFlags(), allNamespacesFlag,
			&ucli.StringFlag{Name: "for", Usage: "only the events about this object (--for pod/myweb)"},
			&ucli.StringSliceFlag{Name: "types", Usage: "only events of these types (Normal, Warning)"},
			&ucli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "after listing, print each new event"},
			&ucli.BoolFlag{Name: "no-headers", Usage: "leave out the header line"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "json or yaml"},
		),
		Action: interruptible(func(c *ucli.Context) bool { return c.Bool("watch") }, e.events),
	}
}

func (e *environment) events(c *ucli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("unknown command %q for \"wasmlet events\"", c.Args().First())
	}
	output := c.String("output")
	if output != "" && output != "json" && output != "yaml" {
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,yaml", output)
	}
	var types []string
	for _, t := range c.StringSlice("types") {
		for _, t := range strings.Split(t, ",") {
			t = strings.TrimSpace(t)
			if !strings.EqualFold(t, api.EventTypeNormal) && !strings.EqualFold(t, api.EventTypeWarning) {
				return errors.New("valid --types are Normal or Warning")
			}
			types = append(types, strings.ToUpper(t[:1])+strings.ToLower(t[1:]))
		}
	}
	ns, all := namespace(c), c.Bool("all-namespaces")
	listNS := ns
	if all {
		listNS = ""
	}
	opts := client.ListOptions{}
	var forKind, forName string
	if f := c.String("for"); f != "" {
		typ, name, ok := strings.Cut(f, "/")
		if !ok || typ == "" || name == "" {
			return fmt.Errorf("--for must be in resource/name form")
		}
		r, err := lookupResource(typ)
		if err != nil {
			return err
		}
		forKind, forName = r.Kind, name
		opts.FieldSelector = "involvedObject.kind=" + forKind + ",involvedObject.name=" + forName
	}
	keep := func(ev *api.Event) bool {
		if forKind != "" && (ev.InvolvedObject.Kind != forKind || ev.InvolvedObject.Name != forName) {
			return false
		}
		return len(types) == 0 || slices.Contains(types, ev.Type)
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	resource, _ := api.LookupResource("events")
	if c.Bool("watch") {
		w, ok := cl.(watcher)
		if !ok {
			return errors.New("this client cannot watch")
		}
		return e.watchEvents(c, w, resource, listNS, opts, keep, output, all)
	}
	objs, err := cl.List(c.Context, resource, listNS, opts)
	if err != nil {
		return err
	}
	var events []*api.Event
	for _, o := range objs {
		if ev, ok := o.(*api.Event); ok && keep(ev) {
			events = append(events, ev)
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return lastSeen(events[i]).Before(lastSeen(events[j])) })

	if output != "" {
		items := make([]printers.Item, len(events))
		for i, ev := range events {
			items[i] = printers.Item{Resource: resource, Object: ev}
		}
		if output == "json" {
			return printers.PrintJSON(e.stdout, items, false)
		}
		return printers.PrintYAML(e.stdout, items, false)
	}
	if len(events) == 0 {
		if all {
			fmt.Fprintln(e.stderr, "No events found.")
		} else {
			fmt.Fprintf(e.stderr, "No events found in %s namespace.\n", ns)
		}
		return nil
	}
	p := &eventPrinter{e: e, all: all, noHeaders: c.Bool("no-headers"), rows: printers.NewRowWriter(e.stdout)}
	return p.print(events)
}

// watchEvents is events --watch as kubectl runs it: one watch from the
// start, whose first events are the existing ones in the node's order (not
// sorted by time, as without --watch), each printed as it comes. The
// header comes with the first row: a watch that sees no event prints
// nothing. With -o, each event is a document of its own.
func (e *environment) watchEvents(c *ucli.Context, w watcher, resource *api.ResourceInfo, ns string, opts client.ListOptions,
	keep func(*api.Event) bool, output string, all bool) error {
	ch, err := w.Watch(c.Context, resource, ns, opts)
	if err != nil {
		return err
	}
	rows := &eventPrinter{e: e, all: all, noHeaders: c.Bool("no-headers"), rows: printers.NewRowWriter(e.stdout)}
	docs := &watchPrinter{e: e, out: getOutput{format: output}, resource: resource}
	for ev := range ch {
		if ev.Err != nil {
			if c.Context.Err() != nil {
				return nil
			}
			return ev.Err
		}
		event, ok := ev.Object.(*api.Event)
		if !ok || ev.Type == "DELETED" || !keep(event) {
			continue
		}
		switch output {
		case "json":
			// kubectl prints the typed event: its fields in the order of
			// the type, not sorted as the generic printer sorts them.
			tm := event.GetTypeMeta()
			tm.Kind, tm.APIVersion = resource.Kind, resource.APIVersion()
			var b []byte
			if b, err = json.MarshalIndent(event, "", "    "); err == nil {
				_, err = fmt.Fprintf(e.stdout, "%s\n", b)
			}
		case "yaml":
			err = docs.print([]printers.Item{{Resource: resource, Object: event}})
		default:
			err = rows.print([]*api.Event{event})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// lastSeen is when an event last happened, whichever API wrote it.
func lastSeen(ev *api.Event) time.Time {
	switch {
	case ev.Series != nil:
		return ev.Series.LastObservedTime.Time
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.Time
	}
	return ev.EventTime.Time
}

// eventPrinter prints kubectl events' rows: LAST SEEN (`2m (x3 over 5m)`
// for a repeated event), TYPE, REASON, OBJECT as Kind/name, MESSAGE.
type eventPrinter struct {
	e             *environment
	all           bool
	noHeaders     bool
	headerPrinted bool
	rows          *printers.RowWriter
}

func (p *eventPrinter) print(events []*api.Event) error {
	var rows [][]string
	if !p.noHeaders && !p.headerPrinted {
		h := []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"}
		if p.all {
			h = append([]string{"NAMESPACE"}, h...)
		}
		rows = append(rows, h)
		p.headerPrinted = true
	}
	now := p.e.now()
	since := func(t time.Time) string {
		if t.IsZero() {
			return "<unknown>"
		}
		return table.HumanDuration(now.Sub(t))
	}
	for _, ev := range events {
		first := since(ev.EventTime.Time)
		if ev.EventTime.IsZero() {
			first = since(ev.FirstTimestamp.Time)
		}
		interval := first
		switch {
		case ev.Series != nil:
			interval = fmt.Sprintf("%s (x%d over %s)", since(ev.Series.LastObservedTime.Time), ev.Series.Count, first)
		case ev.Count > 1:
			interval = fmt.Sprintf("%s (x%d over %s)", since(ev.LastTimestamp.Time), ev.Count, first)
		}
		row := []string{interval, ev.Type, ev.Reason, ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name,
			strings.TrimSpace(ev.Message)}
		if p.all {
			row = append([]string{ev.Namespace}, row...)
		}
		rows = append(rows, row)
	}
	return p.rows.WriteRows(rows)
}
