package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// Quantity is an amount of a resource ("128Mi", "500m", "1e3"), with the
// rules of Kubernetes' resource.Quantity: it is exact to the nano unit
// (smaller parts round up), it keeps the family of suffix it was written with
// (binary "Ki", decimal "k", or exponent "e3"), and it always prints in the
// canonical form of that family, so "1024Mi" reads back as "1Gi" and "0.5" as
// "500m".
//
// A Quantity holds its canonical text and nothing else: it is immutable, may be
// copied and compared with ==, and its zero value is 0.
type Quantity struct {
	s string
}

// Format is the family of suffixes a quantity prints with.
type Format string

const (
	DecimalExponent Format = "DecimalExponent" // 1e3
	BinarySI        Format = "BinarySI"        // 1Ki
	DecimalSI       Format = "DecimalSI"       // 1k
)

// ResourceName names a resource of a container or a node.
type ResourceName string

const (
	ResourceCPU              ResourceName = "cpu"
	ResourceMemory           ResourceName = "memory"
	ResourcePods             ResourceName = "pods"
	ResourceEphemeralStorage ResourceName = "ephemeral-storage"
)

// ResourceList is a set of amounts, such as a container's limits.
type ResourceList map[ResourceName]Quantity

// Errors of ParseQuantity, with Kubernetes' words.
var (
	ErrFormatWrong = errors.New("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
	ErrNumeric     = errors.New("unable to parse numeric part of quantity")
	ErrSuffix      = errors.New("unable to parse quantity's suffix")
)

// maxExponent bounds the power of ten a quantity may be written with, and
// maxDigits the digits of its number, so that "1e999999999" or a megabyte of
// digits cannot make the node compute with numbers of that size; both are far
// beyond any amount of a resource.
const (
	maxExponent = 1000
	maxDigits   = 128
)

var (
	decimalSuffixes = map[string]int{"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
	binarySuffixes  = map[string]int{"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
	decimalNames    = map[int]string{-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
	binaryNames     = []string{"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
	bigTen          = big.NewInt(10)
	bigNano         = big.NewInt(1_000_000_000)
)

// ParseQuantity reads a quantity as Kubernetes does; the error is one of
// ErrFormatWrong, ErrNumeric or ErrSuffix.
func ParseQuantity(s string) (Quantity, error) {
	nano, format, err := parseNano(s)
	if err != nil {
		return Quantity{}, err
	}
	return Quantity{s: canonical(nano, format)}, nil
}

// MustParseQuantity is ParseQuantity for literals known to be well-formed; it
// panics otherwise.
func MustParseQuantity(s string) Quantity {
	q, err := ParseQuantity(s)
	if err != nil {
		panic(fmt.Sprintf("cannot parse quantity %q: %v", s, err))
	}
	return q
}

// NewQuantity is the quantity n in format f.
func NewQuantity(n int64, f Format) Quantity {
	nano := new(big.Int).Mul(big.NewInt(n), bigNano)
	return Quantity{s: canonical(nano, f)}
}

// NewMilliQuantity is the quantity n/1000 in format f.
func NewMilliQuantity(n int64, f Format) Quantity {
	nano := new(big.Int).Mul(big.NewInt(n), big.NewInt(1_000_000))
	return Quantity{s: canonical(nano, f)}
}

// parseNano returns the amount in nano units, rounded up (away from zero), and
// the format its suffix belongs to.
func parseNano(s string) (*big.Int, Format, error) {
	if s == "" {
		return nil, "", ErrFormatWrong
	}
	i := 0
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		i++
	}
	var digits strings.Builder
	fraction, seenDot, nDigits := 0, false, 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits.WriteByte(c)
			nDigits++
			if seenDot {
				fraction++
			}
			continue
		}
		if c == '.' && !seenDot {
			seenDot = true
			continue
		}
		break
	}
	if nDigits == 0 {
		return nil, "", ErrFormatWrong
	}
	if nDigits > maxDigits {
		return nil, "", ErrNumeric
	}
	suffix := s[i:]
	if strings.IndexFunc(suffix, func(r rune) bool {
		return !strings.ContainsRune("eEinumkKMGTP+-0123456789", r)
	}) >= 0 {
		return nil, "", ErrFormatWrong
	}
	format, exp10, exp2 := DecimalSI, 0, 0
	if e, ok := decimalSuffixes[suffix]; ok {
		exp10 = e
	} else if e, ok := binarySuffixes[suffix]; ok {
		format, exp2 = BinarySI, e
	} else if len(suffix) > 1 && (suffix[0] == 'e' || suffix[0] == 'E') {
		e, ok := parseExponent(suffix[1:])
		if !ok {
			return nil, "", ErrSuffix
		}
		format, exp10 = DecimalExponent, e
	} else {
		return nil, "", ErrSuffix
	}
	n, ok := new(big.Int).SetString(digits.String(), 10)
	if !ok {
		return nil, "", ErrNumeric
	}
	if exp2 > 0 {
		n.Lsh(n, uint(exp2))
	}
	scale := 9 - fraction + exp10 // power of ten that turns n into nano units
	if scale >= 0 {
		n.Mul(n, new(big.Int).Exp(bigTen, big.NewInt(int64(scale)), nil))
	} else {
		d := new(big.Int).Exp(bigTen, big.NewInt(int64(-scale)), nil)
		q, r := new(big.Int).QuoRem(n, d, new(big.Int))
		if r.Sign() != 0 {
			q.Add(q, big.NewInt(1))
		}
		n = q
	}
	if neg {
		n.Neg(n)
	}
	return n, format, nil
}

func parseExponent(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || len(s) > 9 {
		return 0, false
	}
	e := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		e = e*10 + int(c-'0')
	}
	if e > maxExponent {
		return 0, false
	}
	if neg {
		e = -e
	}
	return e, true
}

// canonical prints nano units in format f as Kubernetes' canonical form.
func canonical(nano *big.Int, f Format) string {
	if nano.Sign() == 0 {
		return "0"
	}
	sign := ""
	abs := new(big.Int).Abs(nano)
	if nano.Sign() < 0 {
		sign = "-"
	}
	if f == BinarySI {
		whole, rem := new(big.Int).QuoRem(abs, bigNano, new(big.Int))
		// Binary suffixes print only whole amounts of at least 1Ki; anything
		// else falls back to decimal, as Kubernetes does.
		if rem.Sign() == 0 && whole.Cmp(big.NewInt(1024)) >= 0 {
			k := 0
			mask := big.NewInt(1023)
			for k < len(binaryNames)-1 && new(big.Int).And(whole, mask).Sign() == 0 {
				whole.Rsh(whole, 10)
				k++
			}
			return sign + whole.String() + binaryNames[k]
		}
		f = DecimalSI
	}
	// abs = mantissa * 10^(exp-(-9)); strip trailing zeros, then lower the
	// exponent to a multiple of three.
	digits := abs.String()
	trimmed := strings.TrimRight(digits, "0")
	exp := len(digits) - len(trimmed) - 9
	mantissa := trimmed
	for exp%3 != 0 {
		mantissa += "0"
		exp--
	}
	if f == DecimalSI {
		for exp > 18 {
			mantissa += "000"
			exp -= 3
		}
		return sign + mantissa + decimalNames[exp]
	}
	if exp == 0 {
		return sign + mantissa
	}
	return fmt.Sprintf("%s%se%d", sign, mantissa, exp)
}

// String is the canonical form; the zero Quantity is "0".
func (q Quantity) String() string {
	if q.s == "" {
		return "0"
	}
	return q.s
}

// IsZero reports whether q is 0.
func (q Quantity) IsZero() bool { return q.s == "" || q.s == "0" }

// Format is the family of suffixes q prints with.
func (q Quantity) Format() Format {
	_, f, _ := parseNano(q.String())
	return f
}

func (q Quantity) nano() *big.Int {
	n, _, err := parseNano(q.String())
	if err != nil {
		return new(big.Int)
	}
	return n
}

// Value is q rounded up (away from zero) to a whole number, clamped to int64.
func (q Quantity) Value() int64 { return scaled(q.nano(), bigNano) }

// MilliValue is q in thousandths, rounded up (away from zero), clamped to int64.
func (q Quantity) MilliValue() int64 { return scaled(q.nano(), big.NewInt(1_000_000)) }

func scaled(nano, unit *big.Int) int64 {
	quo, rem := new(big.Int).QuoRem(nano, unit, new(big.Int))
	if rem.Sign() != 0 {
		quo.Add(quo, big.NewInt(int64(nano.Sign())))
	}
	if !quo.IsInt64() {
		if quo.Sign() < 0 {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return quo.Int64()
}

// Cmp returns -1, 0 or 1 as q is less than, equal to or greater than o.
func (q Quantity) Cmp(o Quantity) int { return q.nano().Cmp(o.nano()) }

// MarshalJSON writes the canonical form as a string.
func (q Quantity) MarshalJSON() ([]byte, error) { return json.Marshal(q.String()) }

// UnmarshalJSON reads a string or a bare number, as Kubernetes does.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*q = Quantity{}
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	p, err := ParseQuantity(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*q = p
	return nil
}
