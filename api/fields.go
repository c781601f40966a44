package api

import (
	"fmt"
	"strings"
)

// Field selectors (k8s.io/apimachinery/pkg/fields): comma-separated terms
// `field=value`, `field==value` or `field!=value`, ANDed; `\` escapes `,`,
// `=`, `!` and itself in values. A field the object lacks has the value "".

// FieldRequirement is one term of a field selector.
type FieldRequirement struct {
	Field string
	// Negated is true for !=.
	Negated bool
	Value   string
}

// FieldRequirements is a FieldSelector made of terms.
type FieldRequirements []FieldRequirement

func (s FieldRequirements) Matches(fields map[string]string) bool {
	for _, r := range s {
		if (fields[r.Field] == r.Value) == r.Negated {
			return false
		}
	}
	return true
}

func (s FieldRequirements) Empty() bool { return len(s) == 0 }

func (s FieldRequirements) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		op := "="
		if r.Negated {
			op = "!="
		}
		parts[i] = r.Field + op + escapeFieldValue(r.Value)
	}
	return strings.Join(parts, ",")
}

// FieldSelectorFields lists the fields sel names, so that a server can refuse
// the ones a kind does not support (`field label not supported: x`).
func FieldSelectorFields(sel FieldSelector) []string {
	reqs, ok := sel.(FieldRequirements)
	if !ok {
		return nil
	}
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Field
	}
	return out
}

// EverythingFields is the field selector that matches every object.
func EverythingFields() FieldSelector { return FieldRequirements{} }

// ParseFieldSelector reads a `--field-selector` string. The empty string
// selects everything.
func ParseFieldSelector(s string) (FieldSelector, error) {
	reqs := FieldRequirements{}
	if s == "" {
		return reqs, nil
	}
	for _, term := range splitUnescaped(s, ',') {
		if term == "" {
			continue
		}
		r, ok := parseFieldTerm(term)
		if !ok {
			return nil, fmt.Errorf("invalid selector: '%s'; can't understand '%s'", s, term)
		}
		reqs = append(reqs, r)
	}
	return reqs, nil
}

func parseFieldTerm(term string) (FieldRequirement, bool) {
	for i := 0; i < len(term); i++ {
		if term[i] == '\\' {
			i++
			continue
		}
		var op string
		switch {
		case strings.HasPrefix(term[i:], "!="):
			op = "!="
		case strings.HasPrefix(term[i:], "=="):
			op = "=="
		case term[i] == '=':
			op = "="
		default:
			continue
		}
		field := strings.TrimSpace(term[:i])
		value, err := unescapeFieldValue(term[i+len(op):])
		if err != nil || field == "" || strings.ContainsAny(field, "!\\ \t\r\n") {
			return FieldRequirement{}, false
		}
		return FieldRequirement{Field: field, Negated: op == "!=", Value: value}, true
	}
	return FieldRequirement{}, false
}

func splitUnescaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func unescapeFieldValue(s string) (string, error) {
	if !strings.Contains(s, "\\") {
		// An unescaped special character in a value is ambiguous.
		if strings.ContainsAny(s, "=!") {
			return "", fmt.Errorf("invalid field selector value %q", s)
		}
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			if i+1 >= len(s) {
				return "", fmt.Errorf("invalid trailing escape sequence: %q", s)
			}
			i++
			switch s[i] {
			case '\\', ',', '=', '!':
				b.WriteByte(s[i])
			default:
				return "", fmt.Errorf("invalid escape sequence: %q", s[i-1:i+1])
			}
			continue
		}
		if c == '=' || c == '!' {
			return "", fmt.Errorf("invalid field selector value %q", s)
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

func escapeFieldValue(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `=`, `\=`, `!`, `\!`)
	return r.Replace(s)
}
