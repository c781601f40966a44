package controller

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/wasmlet/wasmlet/api"
)

// labelSelectorAsSelector turns a LabelSelector into a Selector with
// Kubernetes' rules: nil matches nothing, empty matches everything,
// matchLabels and matchExpressions are ANDed.
func labelSelectorAsSelector(ls *api.LabelSelector) (api.Selector, error) {
	if ls == nil {
		return nothingSelector{}, nil
	}
	var reqs []requirement
	keys := make([]string, 0, len(ls.MatchLabels))
	for k := range ls.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		reqs = append(reqs, requirement{key: k, op: "In", values: []string{ls.MatchLabels[k]}})
	}
	for _, e := range ls.MatchExpressions {
		op := string(e.Operator)
		switch op {
		case "In", "NotIn":
			if len(e.Values) == 0 {
				return nil, fmt.Errorf("%s: for 'in', 'notin' operators, values set can't be empty", e.Key)
			}
		case "Exists", "DoesNotExist":
			if len(e.Values) != 0 {
				return nil, fmt.Errorf("%s: values set must be empty for exists and does not exist", e.Key)
			}
		default:
			return nil, fmt.Errorf("%q is not a valid label selector operator", op)
		}
		reqs = append(reqs, requirement{key: e.Key, op: op, values: e.Values})
	}
	return labelSelector(reqs), nil
}

type requirement struct {
	key    string
	op     string
	values []string
}

func (r requirement) matches(l map[string]string) bool {
	v, ok := l[r.key]
	switch r.op {
	case "In":
		return ok && slices.Contains(r.values, v)
	case "NotIn":
		return !ok || !slices.Contains(r.values, v)
	case "Exists":
		return ok
	default: // DoesNotExist
		return !ok
	}
}

func (r requirement) String() string {
	switch r.op {
	case "In":
		if len(r.values) == 1 {
			return r.key + "=" + r.values[0]
		}
		return r.key + " in (" + strings.Join(r.values, ",") + ")"
	case "NotIn":
		return r.key + " notin (" + strings.Join(r.values, ",") + ")"
	case "Exists":
		return r.key
	default:
		return "!" + r.key
	}
}

type labelSelector []requirement

func (s labelSelector) Matches(l map[string]string) bool {
	for _, r := range s {
		if !r.matches(l) {
			return false
		}
	}
	return true
}

func (s labelSelector) Empty() bool { return len(s) == 0 }

func (s labelSelector) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

type nothingSelector struct{}

func (nothingSelector) Matches(map[string]string) bool { return false }
func (nothingSelector) Empty() bool                    { return false }
func (nothingSelector) String() string                 { return "<none>" }
