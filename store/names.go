package store

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// newUID is a random (version 4) UUID, as Kubernetes gives every object.
func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Kubernetes' names.SimpleNameGenerator: the base cut to leave room for a
// 5-character suffix from an alphabet without vowels (no words) and without
// look-alike characters.
const (
	nameSuffixAlphabet   = "bcdfghjklmnpqrstvwxz2456789"
	nameSuffixLength     = 5
	maxNameLength        = 63
	maxGeneratedBaseSize = maxNameLength - nameSuffixLength
)

// GenerateName returns a name for generateName base: base cut to 58
// characters and 5 random characters, as Kubernetes' SimpleNameGenerator.
func GenerateName(base string) string {
	if len(base) > maxGeneratedBaseSize {
		base = base[:maxGeneratedBaseSize]
	}
	suffix := make([]byte, nameSuffixLength)
	n := big.NewInt(int64(len(nameSuffixAlphabet)))
	for i := range suffix {
		v, _ := rand.Int(rand.Reader, n)
		suffix[i] = nameSuffixAlphabet[v.Int64()]
	}
	return base + string(suffix)
}
