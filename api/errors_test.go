package api

import (
	"fmt"
	"testing"
)

func TestFieldErrorBody(t *testing.T) {
	n := int64(5)
	var nilPtr *int64
	for _, tc := range []struct {
		err  *FieldError
		want string
	}{
		{Invalid("a", "x", "bad"), `a: Invalid value: "x": bad`},
		{Invalid("a", int32(-1), "bad"), `a: Invalid value: -1: bad`},
		{Invalid("a", &n, "bad"), `a: Invalid value: 5: bad`},
		{Invalid("a", nilPtr, "bad"), `a: Invalid value: null: bad`},
		{Invalid("a", nil, "bad"), `a: Invalid value: null: bad`},
		{Invalid("a", MustParseQuantity("1024Mi"), "bad"), `a: Invalid value: 1Gi: bad`},
		{Invalid("a", map[string]string{"k": "v"}, "bad"), `a: Invalid value: map[string]string{"k":"v"}: bad`},
		{Invalid("a", RestartPolicy("X"), "bad"), `a: Invalid value: "X": bad`},
		{Required("a", ""), `a: Required value`},
		{Forbidden("a", "no"), `a: Forbidden: no`},
		{TooLong("a", "xxx", 2), `a: Too long: must have at most 2 bytes`},
		{NotSupported("a", "x", []string{"y", "z"}), `a: Unsupported value: "x": supported values: "y", "z"`},
		{Duplicate("a", "x"), `a: Duplicate value: "x"`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %s\nwant %s", got, tc.want)
		}
	}
	l := ErrorList{Required("a", ""), Required("a", ""), Required("b", "")}
	if got := l.ToAggregateString(); got != "[a: Required value, b: Required value]" {
		t.Errorf("aggregate %s", got)
	}
}

func ExampleParseSelector() {
	sel, _ := ParseSelector("tier in (front,edge), app=web, !canary")
	fmt.Println(sel)
	fmt.Println(sel.Matches(map[string]string{"app": "web", "tier": "edge"}))
	fmt.Println(sel.Matches(map[string]string{"app": "web", "tier": "edge", "canary": "1"}))
	// Output:
	// app=web,!canary,tier in (edge,front)
	// true
	// false
}

func ExampleParseQuantity() {
	for _, s := range []string{"1024Mi", "0.5", "1500", "1e3"} {
		q, _ := ParseQuantity(s)
		fmt.Println(q, q.Value(), q.MilliValue())
	}
	// Output:
	// 1Gi 1073741824 1073741824000
	// 500m 1 500
	// 1500 1500 1500000
	// 1e3 1000 1000000
}
