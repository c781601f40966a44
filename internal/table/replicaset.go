package table

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

type replicaSetPrinter struct{}

func (replicaSetPrinter) columns(wide bool) []string { return controllerColumns(wide) }

func (replicaSetPrinter) row(obj api.Object, now time.Time, wide bool) []string {
	rs := obj.(*api.ReplicaSet)
	row := controllerRow(rs.Name, rs.Spec.Replicas, rs.Status.Replicas, rs.Status.ReadyReplicas,
		rs.CreationTimestamp, now)
	if wide {
		names, images := containerCells(rs.Spec.Template.Spec.Containers)
		row = append(row, names, images, FormatLabelSelector(rs.Spec.Selector))
	}
	return row
}

type replicationControllerPrinter struct{}

func (replicationControllerPrinter) columns(wide bool) []string { return controllerColumns(wide) }

func (replicationControllerPrinter) row(obj api.Object, now time.Time, wide bool) []string {
	rc := obj.(*api.ReplicationController)
	row := controllerRow(rc.Name, rc.Spec.Replicas, rc.Status.Replicas, rc.Status.ReadyReplicas,
		rc.CreationTimestamp, now)
	if wide {
		var containers []api.Container
		if rc.Spec.Template != nil {
			containers = rc.Spec.Template.Spec.Containers
		}
		names, images := containerCells(containers)
		row = append(row, names, images, FormatLabels(rc.Spec.Selector))
	}
	return row
}

func controllerColumns(wide bool) []string {
	c := []string{"NAME", "DESIRED", "CURRENT", "READY", "AGE"}
	if wide {
		c = append(c, "CONTAINERS", "IMAGES", "SELECTOR")
	}
	return c
}

// controllerRow is NAME DESIRED CURRENT READY AGE. DESIRED is spec.replicas
// as stored; an unset one (defaulting makes that rare) shows as 1, its
// default.
func controllerRow(name string, desired *int32, current, ready int32, created api.Time, now time.Time) []string {
	d := int32(1)
	if desired != nil {
		d = *desired
	}
	return []string{name, strconv.Itoa(int(d)), strconv.Itoa(int(current)), strconv.Itoa(int(ready)),
		age(created, now)}
}

// containerCells is the CONTAINERS and IMAGES columns: names and images,
// comma-separated.
func containerCells(cs []api.Container) (names, images string) {
	n := make([]string, len(cs))
	im := make([]string, len(cs))
	for i, c := range cs {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// FormatLabelSelector prints a LabelSelector as the `-l` syntax, with the
// requirements sorted by key: `app=web,tier in (a,b),!canary`. A nil or
// empty selector is `<none>`.
func FormatLabelSelector(s *api.LabelSelector) string {
	if s == nil {
		return "<none>"
	}
	type req struct{ key, text string }
	var reqs []req
	for _, k := range slices.Sorted(maps.Keys(s.MatchLabels)) {
		reqs = append(reqs, req{k, k + "=" + s.MatchLabels[k]})
	}
	for _, e := range s.MatchExpressions {
		values := slices.Clone(e.Values)
		sort.Strings(values)
		var text string
		switch e.Operator {
		case api.LabelSelectorOpIn:
			text = fmt.Sprintf("%s in (%s)", e.Key, strings.Join(values, ","))
		case api.LabelSelectorOpNotIn:
			text = fmt.Sprintf("%s notin (%s)", e.Key, strings.Join(values, ","))
		case api.LabelSelectorOpExists:
			text = e.Key
		case api.LabelSelectorOpDoesNotExist:
			text = "!" + e.Key
		default:
			return "<error>"
		}
		reqs = append(reqs, req{e.Key, text})
	}
	sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].key < reqs[j].key })
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		parts[i] = r.text
	}
	return orNone(strings.Join(parts, ","))
}
