package table

import (
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-3 * time.Second, "<invalid>"},
		{-1500 * time.Millisecond, "0s"},
		{0, "0s"},
		{999 * time.Millisecond, "0s"},
		{59 * time.Second, "59s"},
		{119 * time.Second, "119s"},
		{120 * time.Second, "2m"},
		{121 * time.Second, "2m1s"},
		{9*time.Minute + 59*time.Second, "9m59s"},
		{10 * time.Minute, "10m"},
		{10*time.Minute + 30*time.Second, "10m"},
		{179 * time.Minute, "179m"},
		{3 * time.Hour, "3h"},
		{3*time.Hour + 5*time.Minute, "3h5m"},
		{7*time.Hour + 59*time.Minute, "7h59m"},
		{8 * time.Hour, "8h"},
		{47 * time.Hour, "47h"},
		{48 * time.Hour, "2d"},
		{49 * time.Hour, "2d1h"},
		{8*24*time.Hour - time.Hour, "7d23h"},
		{8 * 24 * time.Hour, "8d"},
		{729 * 24 * time.Hour, "729d"},
		{730 * 24 * time.Hour, "2y"},
		{731 * 24 * time.Hour, "2y1d"},
		{8*365*24*time.Hour - 24*time.Hour, "7y364d"},
		{8 * 365 * 24 * time.Hour, "8y"},
		{20 * 365 * 24 * time.Hour, "20y"},
	}
	for _, tt := range tests {
		if got := HumanDuration(tt.d); got != tt.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestFormatLabelSelector(t *testing.T) {
	tests := []struct {
		sel  *api.LabelSelector
		want string
	}{
		{nil, "<none>"},
		{&api.LabelSelector{}, "<none>"},
		{&api.LabelSelector{MatchLabels: map[string]string{"b": "2", "a": "1"}}, "a=1,b=2"},
		{&api.LabelSelector{MatchExpressions: []api.LabelSelectorRequirement{
			{Key: "z", Operator: api.LabelSelectorOpExists},
			{Key: "env", Operator: api.LabelSelectorOpNotIn, Values: []string{"test", "dev"}},
		}}, "env notin (dev,test),z"},
		{&api.LabelSelector{MatchExpressions: []api.LabelSelectorRequirement{{Key: "a", Operator: "Bogus"}}}, "<error>"},
	}
	for _, tt := range tests {
		if got := FormatLabelSelector(tt.sel); got != tt.want {
			t.Errorf("FormatLabelSelector(%+v) = %q, want %q", tt.sel, got, tt.want)
		}
	}
}
