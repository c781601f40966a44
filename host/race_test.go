//go:build race

package host

func init() { raceEnabled = true }
