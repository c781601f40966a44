package api

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestParseQuantity(t *testing.T) {
	for _, tc := range []struct {
		in, canonical string
		value, milli  int64
	}{
		{"0", "0", 0, 0},
		{"0Mi", "0", 0, 0},
		{"128Mi", "128Mi", 128 << 20, 128 << 30 * 1000 / 1024},
		{"1024Mi", "1Gi", 1 << 30, 1000 << 30},
		{"1.5Gi", "1536Mi", 1536 << 20, 1536 << 20 * 1000},
		{"0.5Gi", "512Mi", 512 << 20, 512 << 20 * 1000},
		{"0.5Ki", "512", 512, 512000},
		{"1G", "1G", 1e9, 1e12},
		{"1000", "1k", 1000, 1e6},
		{"1500", "1500", 1500, 1.5e6},
		{"1.5k", "1500", 1500, 1.5e6},
		{"500m", "500m", 1, 500},
		{"0.5", "500m", 1, 500},
		{"1000m", "1", 1, 1000},
		{"1e3", "1e3", 1000, 1e6},
		{"1E3", "1e3", 1000, 1e6},
		{"1e4", "10e3", 10000, 1e7},
		{"12e-1", "1200e-3", 2, 1200},
		{"0.1n", "1n", 1, 1},
		{"-1Mi", "-1Mi", -1 << 20, -1 << 20 * 1000},
		{"-0.5", "-500m", -1, -500},
		{"+5", "5", 5, 5000},
		{".5", "500m", 1, 500},
		{"5.", "5", 5, 5000},
		{"100u", "100u", 1, 1},
		{"2E", "2E", 2e18, math.MaxInt64},
		{"10E", "10E", math.MaxInt64, math.MaxInt64},
		{"1000P", "1E", 1e18, math.MaxInt64},
	} {
		q, err := ParseQuantity(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if q.String() != tc.canonical || q.Value() != tc.value || q.MilliValue() != tc.milli {
			t.Errorf("%q: got %q %d %d, want %q %d %d", tc.in, q.String(), q.Value(), q.MilliValue(), tc.canonical, tc.value, tc.milli)
		}
	}
	for _, tc := range []struct {
		in  string
		err error
	}{
		{"", ErrFormatWrong}, {"Mi", ErrFormatWrong}, {"1 Mi", ErrFormatWrong}, {"abc", ErrFormatWrong}, {"1.2.3", ErrFormatWrong},
		{"1Qi", ErrFormatWrong}, {"1ki", ErrSuffix}, {"1mi", ErrSuffix}, {"1e", ErrSuffix}, {"1e1001", ErrSuffix}, {"1KiB", ErrFormatWrong},
		{strings.Repeat("9", 129), ErrNumeric},
	} {
		if _, err := ParseQuantity(tc.in); err != tc.err {
			t.Errorf("%q: error %v, want %v", tc.in, err, tc.err)
		}
	}
}

func TestQuantityJSON(t *testing.T) {
	var r ResourceList
	if err := json.Unmarshal([]byte(`{"memory":"1024Mi","cpu":0.5,"pods":110}`), &r); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r)
	if string(b) != `{"cpu":"500m","memory":"1Gi","pods":"110"}` {
		t.Errorf("got %s", b)
	}
	var q Quantity
	if err := json.Unmarshal([]byte(`"1x"`), &q); err != ErrFormatWrong {
		t.Errorf("bad quantity: %v", err)
	}
	if (Quantity{}).String() != "0" || !(Quantity{}).IsZero() || NewQuantity(2048, BinarySI).String() != "2Ki" || NewMilliQuantity(1500, DecimalSI).String() != "1500m" {
		t.Error("zero value and constructors")
	}
	if MustParseQuantity("1Gi").Cmp(MustParseQuantity("1024Mi")) != 0 || MustParseQuantity("1G").Cmp(MustParseQuantity("1Gi")) >= 0 {
		t.Error("Cmp")
	}
}

func TestIntOrString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want IntOrString
	}{
		{`8080`, FromInt32(8080)}, {`"http"`, FromString("http")}, {`"8080"`, FromString("8080")},
	} {
		var v IntOrString
		if err := json.Unmarshal([]byte(tc.in), &v); err != nil || v != tc.want {
			t.Errorf("%s: %+v %v", tc.in, v, err)
		}
		if b, _ := json.Marshal(v); string(b) != tc.in {
			t.Errorf("%s marshals as %s", tc.in, b)
		}
	}
	var v IntOrString
	if err := json.Unmarshal([]byte(`1.5`), &v); err == nil {
		t.Error("1.5 is neither an int nor a string")
	}
}

func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{"128Mi", "0.5", "1e3", "-1.5Gi", "100m", "1E", "12e-9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuantity(s)
		if err != nil {
			return
		}
		// The canonical form is a fixed point with the same amount.
		again, err := ParseQuantity(q.String())
		if err != nil || again.String() != q.String() || again.Cmp(q) != 0 {
			t.Fatalf("%q -> %q -> %q (%v)", s, q.String(), again.String(), err)
		}
		q.Value()
		q.MilliValue()
	})
}
