package api

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Label selectors with Kubernetes' semantics (k8s.io/apimachinery/pkg/labels):
// requirements are ANDed; `!=` and `notin` match objects without the key;
// an empty selector matches everything, and the selector of a nil
// LabelSelector matches nothing.

// Operator of a label requirement, as the `-l` syntax writes it.
type Operator string

const (
	OpDoesNotExist Operator = "!"
	OpEquals       Operator = "="
	OpDoubleEquals Operator = "=="
	OpIn           Operator = "in"
	OpNotEquals    Operator = "!="
	OpNotIn        Operator = "notin"
	OpExists       Operator = "exists"
	OpGreaterThan  Operator = "gt"
	OpLessThan     Operator = "lt"
)

// Requirement is one term of a label selector.
type Requirement struct {
	Key      string
	Operator Operator
	// Values are sorted; one for =, ==, !=, gt and lt, none for exists and !.
	Values []string
}

// NewRequirement checks the key, the operator and the values as Kubernetes
// does.
func NewRequirement(key string, op Operator, values []string) (Requirement, error) {
	var errs ErrorList
	for _, msg := range IsQualifiedName(key) {
		errs = append(errs, Invalid("key", key, msg))
	}
	switch op {
	case OpIn, OpNotIn:
		if len(values) == 0 {
			errs = append(errs, Invalid("values", values, "for 'in', 'notin' operators, values set can't be empty"))
		}
	case OpEquals, OpDoubleEquals, OpNotEquals:
		if len(values) != 1 {
			errs = append(errs, Invalid("values", values, "exact-match compatibility requires one single value"))
		}
	case OpExists, OpDoesNotExist:
		if len(values) != 0 {
			errs = append(errs, Invalid("values", values, "values set must be empty for exists and does not exist"))
		}
	case OpGreaterThan, OpLessThan:
		if len(values) != 1 {
			errs = append(errs, Invalid("values", values, "for 'Gt', 'Lt' operators, exactly one value is required"))
		}
		for i, v := range values {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				errs = append(errs, Invalid(fmt.Sprintf("values[%d]", i), v, "for 'Gt', 'Lt' operators, the value must be an integer"))
			}
		}
	default:
		errs = append(errs, NotSupported("operator", op, []string{"!", "=", "==", "in", "!=", "notin", "exists", "gt", "lt"}))
	}
	for i, v := range values {
		for _, msg := range IsValidLabelValue(v) {
			errs = append(errs, Invalid(fmt.Sprintf("values[%d][%s]", i, key), v, msg))
		}
	}
	if len(errs) > 0 {
		return Requirement{}, fmt.Errorf("%s", errs.ToAggregateString())
	}
	vs := slices.Clone(values)
	sort.Strings(vs)
	return Requirement{Key: key, Operator: op, Values: slices.Compact(vs)}, nil
}

// Matches reports whether labels satisfy the requirement.
func (r Requirement) Matches(labels map[string]string) bool {
	v, ok := labels[r.Key]
	switch r.Operator {
	case OpIn, OpEquals, OpDoubleEquals:
		return ok && slices.Contains(r.Values, v)
	case OpNotIn, OpNotEquals:
		return !ok || !slices.Contains(r.Values, v)
	case OpExists:
		return ok
	case OpDoesNotExist:
		return !ok
	case OpGreaterThan, OpLessThan:
		if !ok || len(r.Values) != 1 {
			return false
		}
		have, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		want, err := strconv.ParseInt(r.Values[0], 10, 64)
		if err != nil {
			return false
		}
		if r.Operator == OpGreaterThan {
			return have > want
		}
		return have < want
	}
	return false
}

// String writes the requirement in the `-l` syntax.
func (r Requirement) String() string {
	switch r.Operator {
	case OpExists:
		return r.Key
	case OpDoesNotExist:
		return "!" + r.Key
	case OpIn:
		return r.Key + " in (" + strings.Join(r.Values, ",") + ")"
	case OpNotIn:
		return r.Key + " notin (" + strings.Join(r.Values, ",") + ")"
	case OpGreaterThan:
		return r.Key + ">" + strings.Join(r.Values, ",")
	case OpLessThan:
		return r.Key + "<" + strings.Join(r.Values, ",")
	}
	return r.Key + string(r.Operator) + strings.Join(r.Values, ",")
}

// LabelSelectorRequirements is a Selector made of requirements, ANDed.
type LabelSelectorRequirements []Requirement

func (s LabelSelectorRequirements) Matches(labels map[string]string) bool {
	for _, r := range s {
		if !r.Matches(labels) {
			return false
		}
	}
	return true
}

func (s LabelSelectorRequirements) Empty() bool { return len(s) == 0 }

func (s LabelSelectorRequirements) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

func sortRequirements(s LabelSelectorRequirements) {
	sort.SliceStable(s, func(i, j int) bool { return s[i].Key < s[j].Key })
}

// Everything is the selector that matches every object.
func Everything() Selector { return LabelSelectorRequirements{} }

// Nothing is the selector that matches no object (that of a nil
// LabelSelector).
func Nothing() Selector { return nothing{} }

type nothing struct{}

func (nothing) Matches(map[string]string) bool { return false }
func (nothing) Empty() bool                    { return false }
func (nothing) String() string                 { return "" }

// SelectorFromSet is the selector of a ReplicationController: key=value for
// every entry, and everything for an empty set.
func SelectorFromSet(set map[string]string) Selector {
	s := make(LabelSelectorRequirements, 0, len(set))
	for _, k := range sortedKeys(set) {
		s = append(s, Requirement{Key: k, Operator: OpEquals, Values: []string{set[k]}})
	}
	return s
}

// LabelSelectorAsSelector converts the structured selector of a ReplicaSet:
// nil matches nothing, empty matches everything.
func LabelSelectorAsSelector(ls *LabelSelector) (Selector, error) {
	if ls == nil {
		return Nothing(), nil
	}
	s := make(LabelSelectorRequirements, 0, len(ls.MatchLabels)+len(ls.MatchExpressions))
	for _, k := range sortedKeys(ls.MatchLabels) {
		r, err := NewRequirement(k, OpEquals, []string{ls.MatchLabels[k]})
		if err != nil {
			return nil, err
		}
		s = append(s, r)
	}
	for _, e := range ls.MatchExpressions {
		var op Operator
		switch e.Operator {
		case LabelSelectorOpIn:
			op = OpIn
		case LabelSelectorOpNotIn:
			op = OpNotIn
		case LabelSelectorOpExists:
			op = OpExists
		case LabelSelectorOpDoesNotExist:
			op = OpDoesNotExist
		default:
			return nil, fmt.Errorf("%q is not a valid label selector operator", e.Operator)
		}
		r, err := NewRequirement(e.Key, op, e.Values)
		if err != nil {
			return nil, err
		}
		s = append(s, r)
	}
	sortRequirements(s)
	return s, nil
}

// FormatLabelSelector writes a LabelSelector in the `-l` syntax, "<none>"
// when it selects by nothing, as kubectl's columns show it.
func FormatLabelSelector(ls *LabelSelector) string {
	s, err := LabelSelectorAsSelector(ls)
	if err != nil {
		return "<error>"
	}
	if str := s.String(); str != "" {
		return str
	}
	return "<none>"
}

// ParseSelector reads kubectl's `-l` syntax: comma-separated requirements
// `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>1`,
// `k<1`. The empty string selects everything.
func ParseSelector(s string) (Selector, error) {
	p := &selectorParser{lx: lexer{s: s}}
	reqs, err := p.parse()
	if err != nil {
		return nil, err
	}
	sortRequirements(reqs)
	return reqs, nil
}

type tokenKind int

const (
	tokError tokenKind = iota
	tokEnd
	tokIdent
	tokComma
	tokOpen
	tokClose
	tokDoesNotExist // !
	tokEquals       // =
	tokDoubleEquals // ==
	tokNotEquals    // !=
	tokGreater      // >
	tokLess         // <
	tokIn
	tokNotIn
)

var tokenNames = map[tokenKind]string{tokEnd: "end of string", tokComma: ",", tokOpen: "(", tokClose: ")",
	tokDoesNotExist: "!", tokEquals: "=", tokDoubleEquals: "==", tokNotEquals: "!=", tokGreater: ">", tokLess: "<",
	tokIn: "in", tokNotIn: "notin"}

type token struct {
	kind tokenKind
	text string
}

type lexer struct {
	s   string
	pos int
}

func isSpace(c byte) bool   { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
func isSpecial(c byte) bool { return strings.IndexByte("=!(),<>", c) >= 0 }

func (l *lexer) next() token {
	for l.pos < len(l.s) && isSpace(l.s[l.pos]) {
		l.pos++
	}
	if l.pos >= len(l.s) {
		return token{kind: tokEnd}
	}
	c := l.s[l.pos]
	if isSpecial(c) {
		two := ""
		if l.pos+1 < len(l.s) {
			two = l.s[l.pos : l.pos+2]
		}
		switch two {
		case "==":
			l.pos += 2
			return token{tokDoubleEquals, two}
		case "!=":
			l.pos += 2
			return token{tokNotEquals, two}
		}
		l.pos++
		kind := map[byte]tokenKind{'=': tokEquals, '!': tokDoesNotExist, '(': tokOpen, ')': tokClose, ',': tokComma, '<': tokLess, '>': tokGreater}[c]
		return token{kind, string(c)}
	}
	start := l.pos
	for l.pos < len(l.s) && !isSpace(l.s[l.pos]) && !isSpecial(l.s[l.pos]) {
		l.pos++
	}
	text := l.s[start:l.pos]
	switch text {
	case "in":
		return token{tokIn, text}
	case "notin":
		return token{tokNotIn, text}
	}
	return token{tokIdent, text}
}

type selectorParser struct {
	lx     lexer
	peeked *token
}

func (p *selectorParser) peek() token {
	if p.peeked == nil {
		t := p.lx.next()
		p.peeked = &t
	}
	return *p.peeked
}

func (p *selectorParser) consume() token {
	t := p.peek()
	p.peeked = nil
	return t
}

func tokenText(t token) string {
	if t.kind == tokIdent {
		return t.text
	}
	return tokenNames[t.kind]
}

func (p *selectorParser) parse() (LabelSelectorRequirements, error) {
	reqs := LabelSelectorRequirements{}
	if p.peek().kind == tokEnd {
		return reqs, nil
	}
	for {
		r, err := p.requirement()
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
		switch t := p.consume(); t.kind {
		case tokEnd:
			return reqs, nil
		case tokComma:
			if n := p.peek(); n.kind == tokEnd {
				return nil, fmt.Errorf("found '%s', expected: identifier after ','", tokenText(n))
			}
		default:
			return nil, fmt.Errorf("found '%s', expected: ',' or 'end of string'", tokenText(t))
		}
	}
}

func (p *selectorParser) requirement() (Requirement, error) {
	t := p.consume()
	negated := false
	if t.kind == tokDoesNotExist {
		negated = true
		t = p.consume()
	}
	if t.kind != tokIdent {
		return Requirement{}, fmt.Errorf("found '%s', expected: !, identifier, or 'end of string'", tokenText(t))
	}
	key := t.text
	if n := p.peek(); n.kind == tokEnd || n.kind == tokComma {
		op := OpExists
		if negated {
			op = OpDoesNotExist
		}
		return NewRequirement(key, op, nil)
	}
	if negated {
		return Requirement{}, fmt.Errorf("found '%s', expected: ',' or 'end of string'", tokenText(p.peek()))
	}
	opTok := p.consume()
	var op Operator
	switch opTok.kind {
	case tokEquals:
		op = OpEquals
	case tokDoubleEquals:
		op = OpDoubleEquals
	case tokNotEquals:
		op = OpNotEquals
	case tokGreater:
		op = OpGreaterThan
	case tokLess:
		op = OpLessThan
	case tokIn:
		op = OpIn
	case tokNotIn:
		op = OpNotIn
	default:
		return Requirement{}, fmt.Errorf("found '%s', expected: %s", tokenText(opTok), "'=', '!=', '==', 'in', notin'")
	}
	var values []string
	if op == OpIn || op == OpNotIn {
		if t := p.consume(); t.kind != tokOpen {
			return Requirement{}, fmt.Errorf("found '%s', expected: '('", tokenText(t))
		}
		for {
			t := p.consume()
			switch t.kind {
			case tokIdent:
				values = append(values, t.text)
				switch n := p.consume(); n.kind {
				case tokComma:
					continue
				case tokClose:
				default:
					return Requirement{}, fmt.Errorf("found '%s', expected: ',' or ')'", tokenText(n))
				}
			case tokClose:
			case tokComma:
				// An empty value, as in `in (a,,b)` or `in (,a)`.
				values = append(values, "")
				continue
			default:
				return Requirement{}, fmt.Errorf("found '%s', expected: ',', ')' or identifier", tokenText(t))
			}
			break
		}
	} else {
		switch t := p.peek(); t.kind {
		case tokIdent, tokIn, tokNotIn:
			p.consume()
			values = []string{t.text}
		case tokEnd, tokComma:
			values = []string{""}
		default:
			return Requirement{}, fmt.Errorf("found '%s', expected: identifier", tokenText(t))
		}
	}
	return NewRequirement(key, op, values)
}
