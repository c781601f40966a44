package wasi_test

// raceEnabled is set under the race detector, where wazero's compiler
// takes most of a minute for a Go guest; the interpreter runs the short
// tests sooner.
var raceEnabled bool
