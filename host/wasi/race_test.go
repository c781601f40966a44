//go:build race

package wasi_test

func init() { raceEnabled = true }
