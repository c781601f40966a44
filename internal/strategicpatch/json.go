package strategicpatch

import (
	"encoding/json"
	"math"
	"reflect"
)

// jsonEqual compares two decoded JSON values, numbers by their value
// whatever decoded them (json.Number, float64, int).
func jsonEqual(a, b any) bool {
	return reflect.DeepEqual(normalizeNumbers(a), normalizeNumbers(b))
}

// normalizeNumbers makes numbers comparable: integers as int64, so that
// two integers past 2^53 stay apart, and other numbers as float64.
func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = normalizeNumbers(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = normalizeNumbers(e)
		}
		return l
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return normalizeFloat(f)
	case float64:
		return normalizeFloat(t)
	case int:
		return int64(t)
	case int64:
		return t
	default:
		return v
	}
}

func normalizeFloat(f float64) any {
	if f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
		return int64(f)
	}
	return f
}
