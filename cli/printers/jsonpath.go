package printers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// JSONPath is a parsed template of kubectl's JSONPath dialect: text with
// actions in braces, such as `{.items[*].metadata.name}`,
// `{range .items[*]}{.metadata.name}{"\n"}{end}`,
// `{.items[?(@.status.phase=="Running")].metadata.name}`,
// `{.metadata.labels['app\.kubernetes\.io/name']}` or `{..image}`.
//
// Templates run on the generic form of objects (maps, slices, strings,
// json.Number, bools), as kubectl runs them on unstructured objects. A key
// that is missing yields nothing, as with kubectl's default
// --allow-missing-template-keys.
type JSONPath struct {
	template string
	nodes    []jpNode
}

// jpNode is one part of a template or of an action.
type jpNode interface{}

type (
	// jpText is literal text, or a quoted string inside an action.
	jpText struct{ text string }
	// jpList is one expression: steps applied left to right.
	jpList struct{ steps []jpNode }
	// jpField is `.name`; the name "*" is every value of a map.
	jpField struct{ name string }
	// jpRecursive is `..`: the value and all it contains.
	jpRecursive struct{}
	// jpIndex is `[n]`, `[a:b]`, `[a:b:c]` or `[*]` (all set).
	jpIndex struct {
		all                          bool
		start, end, step             int
		hasStart, hasEnd, isSlice    bool
		hasStep                      bool
		negativeStart, negativeIndex bool
	}
	// jpFilter is `[?(left op right)]`, or `[?(left)]` for existence.
	jpFilter struct {
		left, right *jpList
		op          string
	}
	// jpUnion is `a,b`: the results of each expression, in turn.
	jpUnion struct{ lists []*jpList }
	// jpLiteral is a number or boolean operand of a filter.
	jpLiteral struct{ value any }
	jpRange   struct{ list *jpList }
	jpEnd     struct{}
	jpRoot    struct{}
	jpCurrent struct{}
)

// ParseJSONPath parses a template; the error reads as kubectl's,
// `error parsing jsonpath {.items[, unclosed action`.
func ParseJSONPath(template string) (*JSONPath, error) {
	nodes, err := parseTemplate(template)
	if err != nil {
		return nil, fmt.Errorf("error parsing jsonpath %s, %v", template, err)
	}
	return &JSONPath{template: template, nodes: nodes}, nil
}

func parseTemplate(s string) ([]jpNode, error) {
	var nodes []jpNode
	depth := 0
	for len(s) > 0 {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			nodes = append(nodes, jpText{s})
			break
		}
		if i > 0 {
			nodes = append(nodes, jpText{s[:i]})
		}
		end, err := closingBrace(s, i)
		if err != nil {
			return nil, err
		}
		action := strings.TrimSpace(s[i+1 : end])
		s = s[end+1:]
		switch {
		case action == "end":
			if depth == 0 {
				return nil, errors.New("not in range, nothing to end")
			}
			depth--
			nodes = append(nodes, jpEnd{})
		case isRange(action):
			l, err := parseExpression(strings.TrimSpace(strings.TrimPrefix(action, "range")))
			if err != nil {
				return nil, err
			}
			depth++
			nodes = append(nodes, jpRange{l})
		default:
			l, err := parseExpression(action)
			if err != nil {
				return nil, err
			}
			nodes = append(nodes, l)
		}
	}
	if depth > 0 {
		return nil, errors.New("unclosed range")
	}
	return nodes, nil
}

// isRange reports whether an action is `range EXPR` (also `range.items`).
func isRange(action string) bool {
	rest, ok := strings.CutPrefix(action, "range")
	return ok && (rest == "" || strings.ContainsRune(" \t.@$[", rune(rest[0])))
}

// closingBrace finds the `}` that closes the `{` at open, skipping quoted
// strings.
func closingBrace(s string, open int) (int, error) {
	quote := byte(0)
	for i := open + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == '}':
			return i, nil
		}
	}
	return 0, errors.New("unclosed action")
}

// parseExpression parses the inside of an action: a list of steps, or a
// union of lists separated by commas.
func parseExpression(s string) (*jpList, error) {
	parts, err := splitTop(s, ',')
	if err != nil {
		return nil, err
	}
	if len(parts) > 1 {
		u := jpUnion{}
		for _, p := range parts {
			l, err := parseSteps(strings.TrimSpace(p))
			if err != nil {
				return nil, err
			}
			u.lists = append(u.lists, l)
		}
		return &jpList{steps: []jpNode{u}}, nil
	}
	return parseSteps(s)
}

// splitTop splits s at sep outside quotes, brackets and parentheses.
func splitTop(s string, sep byte) ([]string, error) {
	var parts []string
	depth, start := 0, 0
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			depth--
		case c == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	if quote != 0 {
		return nil, errors.New("unclosed quote")
	}
	return append(parts, s[start:]), nil
}

func parseSteps(s string) (*jpList, error) {
	l := &jpList{}
	for len(s) > 0 {
		c := s[0]
		switch {
		case c == ' ' || c == '\t':
			s = s[1:]
		case c == '"' || c == '\'':
			text, rest, err := quoted(s)
			if err != nil {
				return nil, err
			}
			l.steps = append(l.steps, jpText{text})
			s = rest
		case c == '@':
			l.steps = append(l.steps, jpCurrent{})
			s = s[1:]
		case c == '$':
			l.steps = append(l.steps, jpRoot{})
			s = s[1:]
		case strings.HasPrefix(s, ".."):
			l.steps = append(l.steps, jpRecursive{})
			s = s[1:]
		case c == '.':
			name, rest := fieldName(s[1:])
			if name != "" {
				l.steps = append(l.steps, jpField{name})
			}
			s = rest
		case c == '[':
			end, err := closingBracket(s)
			if err != nil {
				return nil, err
			}
			step, err := parseBracket(s[1:end])
			if err != nil {
				return nil, err
			}
			l.steps = append(l.steps, step)
			s = s[end+1:]
		case isDigit(c) || c == '-':
			n := 1
			for n < len(s) && (isDigit(s[n]) || s[n] == '.' || s[n] == 'e') {
				n++
			}
			f, err := strconv.ParseFloat(s[:n], 64)
			if err != nil {
				return nil, fmt.Errorf("cannot parse number %q", s[:n])
			}
			l.steps = append(l.steps, jpLiteral{f})
			s = s[n:]
		case strings.HasPrefix(s, "true"):
			l.steps = append(l.steps, jpLiteral{true})
			s = s[4:]
		case strings.HasPrefix(s, "false"):
			l.steps = append(l.steps, jpLiteral{false})
			s = s[5:]
		default:
			r, _ := utf8.DecodeRuneInString(s)
			return nil, fmt.Errorf("unrecognized character in action: %#U", r)
		}
	}
	return l, nil
}

// quoted reads a quoted string at the start of s, with Go's escapes.
func quoted(s string) (string, string, error) {
	q := s[0]
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			body := s[1:i]
			if q == '\'' {
				body = strings.ReplaceAll(body, `"`, `\"`)
				body = strings.ReplaceAll(body, `\'`, `'`)
			}
			text, err := strconv.Unquote(`"` + body + `"`)
			if err != nil {
				// A backslash before a character Go does not escape
				// (`\.` in a key) stands for that character.
				text = unescapeLoose(s[1:i])
			}
			return text, s[i+1:], nil
		}
	}
	return "", "", errors.New("unclosed quote")
}

func unescapeLoose(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// fieldName reads a field name up to the next step; `\.` is a dot in the
// name.
func fieldName(s string) (string, string) {
	var b strings.Builder
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			b.WriteByte(s[i])
			continue
		}
		if c == '.' || c == '[' || c == ' ' || c == '\t' || c == ')' || c == '=' || c == '!' || c == '<' || c == '>' {
			break
		}
		b.WriteByte(c)
	}
	return b.String(), s[i:]
}

// closingBracket finds the `]` closing the `[` at s[0].
func closingBracket(s string) (int, error) {
	depth := 0
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == '[':
			depth++
		case c == ']':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, errors.New("unterminated array")
}

func parseBracket(s string) (jpNode, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "*":
		return jpIndex{all: true}, nil
	case strings.HasPrefix(s, "?"):
		inner := strings.TrimSpace(s[1:])
		if !strings.HasPrefix(inner, "(") || !strings.HasSuffix(inner, ")") {
			return nil, errors.New("unterminated filter")
		}
		return parseFilter(inner[1 : len(inner)-1])
	case strings.HasPrefix(s, "'") || strings.HasPrefix(s, `"`):
		parts, err := splitTop(s, ',')
		if err != nil {
			return nil, err
		}
		u := jpUnion{}
		for _, p := range parts {
			p = strings.TrimSpace(p)
			if p == "" || (p[0] != '\'' && p[0] != '"') {
				return nil, fmt.Errorf("invalid array index %s", s)
			}
			name, rest, err := quoted(p)
			if err != nil || strings.TrimSpace(rest) != "" {
				return nil, fmt.Errorf("invalid array index %s", s)
			}
			u.lists = append(u.lists, &jpList{steps: []jpNode{jpField{name}}})
		}
		if len(u.lists) == 1 {
			return u.lists[0].steps[0], nil
		}
		return u, nil
	}
	return parseIndex(s)
}

func parseIndex(s string) (jpNode, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 || s == "" {
		return nil, fmt.Errorf("invalid array index %s", s)
	}
	var idx jpIndex
	nums := make([]int, len(parts))
	set := make([]bool, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("invalid array index %s", s)
		}
		nums[i], set[i] = n, true
	}
	if len(parts) == 1 {
		idx.start, idx.hasStart = nums[0], true
		return idx, nil
	}
	idx.isSlice = true
	idx.start, idx.hasStart = nums[0], set[0]
	idx.end, idx.hasEnd = nums[1], set[1]
	if len(parts) == 3 {
		idx.step, idx.hasStep = nums[2], set[2]
	}
	return idx, nil
}

var filterOps = []string{"==", "!=", "<=", ">=", "<", ">"}

func parseFilter(s string) (jpNode, error) {
	depth := 0
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
			continue
		case quote != 0 && c == quote:
			quote = 0
			continue
		case quote != 0:
			continue
		case c == '"' || c == '\'':
			quote = c
			continue
		case c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			depth--
		}
		if depth != 0 {
			continue
		}
		for _, op := range filterOps {
			if strings.HasPrefix(s[i:], op) {
				left, err := parseSteps(strings.TrimSpace(s[:i]))
				if err != nil {
					return nil, err
				}
				right, err := parseSteps(strings.TrimSpace(s[i+len(op):]))
				if err != nil {
					return nil, err
				}
				return jpFilter{left: left, right: right, op: op}, nil
			}
		}
	}
	left, err := parseSteps(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	return jpFilter{left: left}, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// FindResults runs the template on data (the generic form of an object or
// a List) and returns the results of each action, in order; a range gives
// the results of its actions once per item.
func (j *JSONPath) FindResults(data any) ([][]any, error) {
	out, _, err := j.run(j.nodes, data)
	return out, err
}

// run executes nodes against data until the end of a range, and returns
// the results and how many nodes it used.
func (j *JSONPath) run(nodes []jpNode, data any) ([][]any, int, error) {
	var out [][]any
	for i := 0; i < len(nodes); i++ {
		switch n := nodes[i].(type) {
		case jpEnd:
			return out, i + 1, nil
		case jpText:
			out = append(out, []any{n.text})
		case *jpList:
			res, err := evalList(n, []any{data}, data)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, res)
		case jpRange:
			items, err := evalList(n.list, []any{data}, data)
			if err != nil {
				return nil, 0, err
			}
			body := nodes[i+1:]
			used := 0
			if len(items) == 0 {
				_, used, err = j.run(body, nil)
				if err != nil {
					return nil, 0, err
				}
			}
			for _, item := range items {
				var res [][]any
				res, used, err = j.run(body, item)
				if err != nil {
					return nil, 0, err
				}
				out = append(out, res...)
			}
			i += used
		}
	}
	return out, len(nodes), nil
}

func evalList(l *jpList, cur []any, root any) ([]any, error) {
	var err error
	for _, step := range l.steps {
		cur, err = evalStep(step, cur, root)
		if err != nil {
			return nil, err
		}
	}
	return cur, nil
}

func evalStep(step jpNode, cur []any, root any) ([]any, error) {
	var out []any
	switch s := step.(type) {
	case jpText:
		return []any{s.text}, nil
	case jpLiteral:
		return []any{s.value}, nil
	case jpRoot:
		return []any{root}, nil
	case jpCurrent:
		return cur, nil
	case jpField:
		for _, v := range cur {
			switch m := v.(type) {
			case map[string]any:
				if s.name == "*" {
					for _, k := range slices.Sorted(maps.Keys(m)) {
						out = append(out, m[k])
					}
				} else if x, ok := m[s.name]; ok {
					out = append(out, x)
				}
			case []any:
				if s.name == "*" {
					out = append(out, m...)
				}
			}
		}
	case jpRecursive:
		for _, v := range cur {
			out = appendDescendants(out, v)
		}
	case jpIndex:
		for _, v := range cur {
			a, ok := v.([]any)
			if !ok {
				continue
			}
			out = append(out, s.apply(a)...)
		}
	case jpFilter:
		for _, v := range cur {
			a, ok := v.([]any)
			if !ok {
				continue
			}
			for _, item := range a {
				keep, err := s.keep(item, root)
				if err != nil {
					return nil, err
				}
				if keep {
					out = append(out, item)
				}
			}
		}
	case jpUnion:
		for _, l := range s.lists {
			res, err := evalList(l, cur, root)
			if err != nil {
				return nil, err
			}
			out = append(out, res...)
		}
	}
	return out, nil
}

func appendDescendants(out []any, v any) []any {
	out = append(out, v)
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			out = appendDescendants(out, x[k])
		}
	case []any:
		for _, e := range x {
			out = appendDescendants(out, e)
		}
	}
	return out
}

func (idx jpIndex) apply(a []any) []any {
	n := len(a)
	if idx.all {
		return a
	}
	if !idx.isSlice {
		i := idx.start
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			return nil
		}
		return []any{a[i]}
	}
	start, end, step := 0, n, 1
	if idx.hasStart {
		start = idx.start
	}
	if idx.hasEnd {
		end = idx.end
	}
	if idx.hasStep && idx.step > 0 {
		step = idx.step
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start = min(max(start, 0), n)
	end = min(max(end, 0), n)
	var out []any
	for i := start; i < end; i += step {
		out = append(out, a[i])
	}
	return out
}

func (f jpFilter) keep(item, root any) (bool, error) {
	left, err := evalList(f.left, []any{item}, root)
	if err != nil {
		return false, err
	}
	if f.op == "" {
		return len(left) > 0 && left[0] != nil, nil
	}
	right, err := evalList(f.right, []any{item}, root)
	if err != nil {
		return false, err
	}
	if len(left) == 0 || len(right) == 0 {
		return false, nil
	}
	if len(left) > 1 || len(right) > 1 {
		return false, errors.New("can only compare one element at a time")
	}
	l, r := comparable(left[0]), comparable(right[0])
	switch f.op {
	case "==":
		return l == r, nil
	case "!=":
		return l != r, nil
	}
	lf, lok := l.(float64)
	rf, rok := r.(float64)
	if !lok || !rok {
		ls, lok := l.(string)
		rs, rok := r.(string)
		if !lok || !rok {
			return false, fmt.Errorf("cannot compare %v and %v", left[0], right[0])
		}
		lf, rf = float64(strings.Compare(ls, rs)), 0
	}
	switch f.op {
	case "<":
		return lf < rf, nil
	case ">":
		return lf > rf, nil
	case "<=":
		return lf <= rf, nil
	default:
		return lf >= rf, nil
	}
}

// comparable turns numbers of any form into float64, so that 1 == 1.0.
func comparable(v any) any {
	switch x := v.(type) {
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return v
}

// Execute writes the results of the template on data: text as it is, the
// results of one action separated by spaces, maps and lists as compact
// JSON.
func (j *JSONPath) Execute(w io.Writer, data any) error {
	results, err := j.FindResults(data)
	if err != nil {
		return err
	}
	for _, group := range results {
		for i, v := range group {
			if i > 0 {
				if _, err := io.WriteString(w, " "); err != nil {
					return err
				}
			}
			if _, err := io.WriteString(w, jsonPathText(v)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ExecuteJSON writes the results of each action as an indented JSON list,
// as `-o jsonpath-as-json` does.
func (j *JSONPath) ExecuteJSON(w io.Writer, data any) error {
	results, err := j.FindResults(data)
	if err != nil {
		return err
	}
	for _, group := range results {
		if group == nil {
			group = []any{}
		}
		b, err := json.MarshalIndent(group, "", "    ")
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// jsonPathText is one result as text.
func jsonPathText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// Generic is an object's generic form, as templates and custom columns see
// it: maps with keys as in its JSON, numbers as json.Number.
func Generic(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// RelaxedJSONPath makes a custom column's or --sort-by's path a template:
// `.metadata.name`, `metadata.name` and `{.metadata.name}` are the same.
func RelaxedJSONPath(path string) (string, error) {
	if path == "" {
		return "", errors.New("jsonpath expression cannot be empty")
	}
	p := path
	if strings.HasPrefix(p, "{") != strings.HasSuffix(p, "}") {
		return "", fmt.Errorf("unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'")
	}
	p = strings.TrimSuffix(strings.TrimPrefix(p, "{"), "}")
	if !strings.HasPrefix(p, ".") {
		p = "." + p
	}
	return "{" + p + "}", nil
}
