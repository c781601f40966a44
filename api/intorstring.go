package api

import (
	"encoding/json"
	"errors"
	"strconv"
)

// IntOrString is a port that is either a number or a name, written in JSON as
// a number or a string, as Kubernetes' intstr.IntOrString.
type IntOrString struct {
	Type   IntOrStringType
	IntVal int32
	StrVal string
}

// IntOrStringType says which half of an IntOrString is set.
type IntOrStringType int

const (
	Int    IntOrStringType = iota // IntVal is set
	String                        // StrVal is set
)

// FromInt32 is an IntOrString holding n.
func FromInt32(n int32) IntOrString { return IntOrString{Type: Int, IntVal: n} }

// FromString is an IntOrString holding s.
func FromString(s string) IntOrString { return IntOrString{Type: String, StrVal: s} }

// String is the number in decimal or the name.
func (v IntOrString) String() string {
	if v.Type == String {
		return v.StrVal
	}
	return strconv.Itoa(int(v.IntVal))
}

func (v IntOrString) MarshalJSON() ([]byte, error) {
	if v.Type == String {
		return json.Marshal(v.StrVal)
	}
	return json.Marshal(v.IntVal)
}

func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		v.Type, v.IntVal = String, 0
		return json.Unmarshal(b, &v.StrVal)
	}
	if string(b) == "null" {
		*v = IntOrString{}
		return nil
	}
	var n int32
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("json: cannot unmarshal " + string(b) + " into an int or a string")
	}
	*v = IntOrString{Type: Int, IntVal: n}
	return nil
}
