package api

import (
	"strings"
	"testing"
)

func TestParseSelector(t *testing.T) {
	web := map[string]string{"app": "web", "tier": "front"}
	db := map[string]string{"app": "db"}
	none := map[string]string{}
	for _, tc := range []struct {
		in, str string
		match   []map[string]string // labels the selector matches among web, db, none
	}{
		{"", "", []map[string]string{web, db, none}},
		{"app=web", "app=web", []map[string]string{web}},
		{"app==web", "app==web", []map[string]string{web}},
		{"app!=web", "app!=web", []map[string]string{db, none}},
		{"app in (web, db)", "app in (db,web)", []map[string]string{web, db}},
		{"app notin (web)", "app notin (web)", []map[string]string{db, none}},
		{"tier", "tier", []map[string]string{web}},
		{"!tier", "!tier", []map[string]string{db, none}},
		{"tier,app=web", "app=web,tier", []map[string]string{web}},
		{" app = web , !x ", "app=web,!x", []map[string]string{web}},
		{"app=", "app=", []map[string]string{}},
		{"app!=", "app!=", []map[string]string{web, db, none}},
		{"example.com/role=a", "example.com/role=a", []map[string]string{}},
	} {
		s, err := ParseSelector(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if s.String() != tc.str {
			t.Errorf("%q: String() = %q, want %q", tc.in, s.String(), tc.str)
		}
		for _, l := range []map[string]string{web, db, none} {
			want := false
			for _, m := range tc.match {
				if equalMaps(m, l) {
					want = true
				}
			}
			if got := s.Matches(l); got != want {
				t.Errorf("%q matches %v: got %v, want %v", tc.in, l, got, want)
			}
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestParseSelectorErrors(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{"app in ()", "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"},
		{"app in web", "found 'web', expected: '('"},
		{"app web", "found 'web', expected: '=', '!=', '==', 'in', notin'"},
		{"!app=web", "found '=', expected: ',' or 'end of string'"},
		{"app=web,", "found 'end of string', expected: identifier after ','"},
		{"a b=c", "found 'b', expected: '=', '!=', '==', 'in', notin'"},
		{"app=a b", "found 'b', expected: ',' or 'end of string'"},
		{"app=-x", `values[0][app]: Invalid value: "-x": ` + labelValMsg},
		{"x/y/z", `key: Invalid value: "x/y/z": a qualified name must consist`},
		{",", "found ',', expected: !, identifier, or 'end of string'"},
	} {
		_, err := ParseSelector(tc.in)
		if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
		}
	}
}

func TestLabelSelectorAsSelector(t *testing.T) {
	if s, _ := LabelSelectorAsSelector(nil); s.Matches(map[string]string{}) || s.Empty() {
		t.Error("a nil selector must match nothing")
	}
	if s, _ := LabelSelectorAsSelector(&LabelSelector{}); !s.Matches(map[string]string{"a": "b"}) || !s.Empty() {
		t.Error("an empty selector must match everything")
	}
	ls := &LabelSelector{MatchLabels: map[string]string{"app": "web"}, MatchExpressions: []LabelSelectorRequirement{
		{Key: "zone", Operator: LabelSelectorOpNotIn, Values: []string{"b", "a"}},
		{Key: "canary", Operator: LabelSelectorOpDoesNotExist},
		{Key: "env", Operator: LabelSelectorOpExists},
	}}
	s, err := LabelSelectorAsSelector(ls)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "app=web,!canary,env,zone notin (a,b)" {
		t.Errorf("String() = %q", got)
	}
	if !s.Matches(map[string]string{"app": "web", "env": "x"}) || s.Matches(map[string]string{"app": "web", "env": "x", "zone": "a"}) {
		t.Error("wrong matches")
	}
	if FormatLabelSelector(nil) != "<none>" || FormatLabelSelector(&LabelSelector{}) != "<none>" || FormatLabelSelector(ls) != s.String() {
		t.Error("FormatLabelSelector")
	}
	if _, err := LabelSelectorAsSelector(&LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "a", Operator: "Maybe"}}}); err == nil ||
		err.Error() != `"Maybe" is not a valid label selector operator` {
		t.Errorf("bad operator: %v", err)
	}
	if got := SelectorFromSet(map[string]string{"b": "2", "a": "1"}).String(); got != "a=1,b=2" {
		t.Errorf("SelectorFromSet = %q", got)
	}
	if !SelectorFromSet(nil).Empty() || !Everything().Empty() {
		t.Error("an empty set selects everything")
	}
}

func TestParseFieldSelector(t *testing.T) {
	fields := map[string]string{"metadata.name": "web", "status.phase": "Running", "spec.nodeName": ""}
	for _, tc := range []struct {
		in, str string
		match   bool
	}{
		{"", "", true},
		{"metadata.name=web", "metadata.name=web", true},
		{"metadata.name==web", "metadata.name=web", true},
		{"status.phase!=Running", "status.phase!=Running", false},
		{"status.phase!=Failed,metadata.name=web", "status.phase!=Failed,metadata.name=web", true},
		{"spec.nodeName=", "spec.nodeName=", true},
		{"involvedObject.name=x", "involvedObject.name=x", false},
		{`metadata.name=a\,b`, `metadata.name=a\,b`, false},
	} {
		s, err := ParseFieldSelector(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if s.String() != tc.str || s.Matches(fields) != tc.match {
			t.Errorf("%q: String %q matches %v", tc.in, s.String(), s.Matches(fields))
		}
	}
	for _, in := range []string{"metadata.name", "=web", "a=b=c", `a=b\`} {
		if _, err := ParseFieldSelector(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	s, _ := ParseFieldSelector("a=1,b!=2")
	if got := FieldSelectorFields(s); strings.Join(got, ",") != "a,b" {
		t.Errorf("fields %v", got)
	}
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"app=web", "a in (x,y),!b", "k notin ()", "x>1,y<2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			return
		}
		// What a selector prints, it reads back the same; an empty value in
		// a set prints as nothing, as Kubernetes' does, and is left out.
		if strings.Contains(sel.String(), "()") || strings.Contains(sel.String(), "(,") || strings.Contains(sel.String(), ",)") || strings.Contains(sel.String(), ",,") {
			return
		}
		again, err := ParseSelector(sel.String())
		if err != nil {
			t.Fatalf("%q printed %q which does not parse: %v", s, sel.String(), err)
		}
		if again.String() != sel.String() {
			t.Fatalf("%q printed %q, then %q", s, sel.String(), again.String())
		}
		sel.Matches(map[string]string{"app": "web"})
	})
}

func FuzzParseFieldSelector(f *testing.F) {
	for _, s := range []string{"metadata.name=web", `a!=b\,c`, "x==y,z=", `\\=`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseFieldSelector(s)
		if err != nil {
			return
		}
		again, err := ParseFieldSelector(sel.String())
		if err != nil || again.String() != sel.String() {
			t.Fatalf("%q printed %q, then %v %v", s, sel.String(), again, err)
		}
	})
}
