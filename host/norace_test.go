package host

// raceEnabled is set under the race detector, where wazero's compiler
// takes most of a minute for a Go guest: the tests of the real layer then
// run the guests in wazero's interpreter.
var raceEnabled bool
