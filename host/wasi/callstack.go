package wasi

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// The call stack. wazero's compiler keeps a guest's call stack in a Go
// byte slice that it doubles when a call finds no room, up to a fixed
// ceiling (a slice of 50 MB, grown once more: about 100 MB, with the old
// one garbage beside it): a guest recursing without end made the node
// allocate 161 MB before it trapped, whatever its memory limit, and ten
// such guests 1.6 GB. So the rewrite (Compile, CompileWithoutStopChecks)
// gives every guest a budget of call stack, in bytes, and charges each
// frame against it:
//
//   - the budget is the mutable i32 global StackGlobal, which Start sets to
//     StackBudget of the container's memory limit before _start runs;
//   - every defined function, at its entry, takes its frame's cost from the
//     budget into a local of its own, stores it back, and traps
//     (unreachable) when it went below zero;
//   - after every call of the module's own code (call of a defined
//     function, call_indirect) the caller stores its local back: whatever
//     way the callee left (return, its end, a branch to its label, a tail
//     call of its own), the budget is again what the caller had. Calls of
//     imported functions need nothing: they are the node's Go;
//   - before a tail call (return_call, return_call_indirect), whose callee
//     takes the caller's place, the caller gives its cost back;
//   - in a function that catches exceptions (try, try_table), the local is
//     stored back after every catch, every end and at every loop head, the
//     places an exception thrown by a callee may land.
//
// While a function runs its own code, the budget is its local, so every
// restore is idempotent. A trap leaves the budget below zero, which is how
// the node tells its own trap from the guest's unreachable (StackExhausted).
//
// A frame's cost is frameCost: the most wazero's compiler can need for it,
// counted from the function's locals and the size of its body, not what
// it needs. wazero keeps a slot per value its register allocator spills,
// never reused within the frame, so a frame grows with the values live
// across calls and under register pressure, which only a body's size
// bounds: measured (docs/RATIONALE.md, "The call stack"), about 8 bytes a
// local live across the call, 7-8 bytes a value left on the operand stack,
// 80 bytes for each of 1,000 call sites with ten values live across each.
// Every value that can be spilled is made by an instruction of at least two
// bytes (a one-byte instruction takes as many values as it leaves), so
// 8 bytes per byte of body, with 16 per local and parameter (a v128 slot),
// bounds the frame; Go's functions, whose median body is 500 bytes, are
// charged about 4 KiB for frames of tens of bytes.

// StackGlobal is the name under which a module prepared by Compile or
// CompileWithoutStopChecks exports its call stack's budget: a mutable i32
// of bytes left, below zero once a call found it exhausted.
const StackGlobal = "wasmlet.stack"

// Sizes of the budget.
const (
	// startStackBudget is the budget the global starts with, for a start
	// function, which runs before Start can set it.
	startStackBudget = 1 << 20
	// minStackBudget and maxStackBudget bound StackBudget.
	minStackBudget = 64 << 10
	maxStackBudget = 1 << 30
	// DefaultStackBudget is the budget of a guest without a memory limit.
	DefaultStackBudget = 128 << 20
)

// StackBudget is the call stack a guest of the memory limit may take, as
// wazero's compiler would lay it out: a quarter of the limit, at least
// 64 KiB and at most 1 GiB (DefaultStackBudget without a limit). It is
// not taken out of the limit: a guest lives in its linear memory, and
// charges the stack at the most its frames could take, far above what they
// take.
func StackBudget(memoryLimit uint64) int32 {
	if memoryLimit == 0 {
		return DefaultStackBudget
	}
	return int32(min(max(memoryLimit/4, minStackBudget), maxStackBudget))
}

// maxFrameLocals bounds a function's locals and parameters for the
// rewrite (wazero and the module limits refuse far fewer), so that a
// frame's local index and cost cannot wrap.
const maxFrameLocals = 1 << 24

// frameCost is what a function of locals locals and parameters and a body
// of bodyBytes bytes is charged for a frame: see the comment at the top.
// 64 bytes cover the return address, the saved frame pointer and the
// rewrite's own local.
func frameCost(locals uint64, bodyBytes int) int32 {
	c := 64 + 16*locals + 8*uint64(bodyBytes)
	return int32(min(c, maxStackBudget))
}

// errCatches: the function catches exceptions, and its body is rewritten
// again with the restores that need.
var errCatches = errors.New("the function catches exceptions")

// frameTypes is what the rewrite knows of the module's functions when it
// reaches the code section.
type frameTypes struct {
	params   []uint32 // parameters of each type
	funcs    []uint32 // the type of each defined function
	global   uint32   // the index of StackGlobal
	globals  uint32   // the module's own globals, imported ones included
	imported uint32   // imported functions (calls of them need no restore)
}

// paramsOf is the number of parameters of defined function f.
func (t frameTypes) paramsOf(f uint32) (uint32, error) {
	if uint64(f) >= uint64(len(t.funcs)) {
		return 0, fmt.Errorf("no type for function %d", f)
	}
	ti := t.funcs[f]
	if uint64(ti) >= uint64(len(t.params)) {
		return 0, fmt.Errorf("type %d of function %d: no such type", ti, f)
	}
	return t.params[ti], nil
}

// frame is one function's share of the rewrite.
func (t frameTypes) frame(params uint32, catches bool) frame {
	return frame{global: t.global, globals: t.globals, imported: t.imported, params: params, catches: catches}
}

type frame struct {
	global   uint32
	globals  uint32
	imported uint32
	params   uint32
	catches  bool   // the function has try or try_table
	local    uint32 // the function's local of the budget left
	cost     int32
}

// appendEntry appends the function's debit:
//
//	global.get $stack
//	i32.const cost
//	i32.sub
//	local.tee $mine
//	global.set $stack
//	local.get $mine
//	i32.const 0
//	i32.lt_s
//	if
//	  unreachable
//	end
func (f frame) appendEntry(out []byte) []byte {
	out = appendU32(append(out, 0x23), f.global)
	out = appendS32(append(out, 0x41), f.cost)
	out = appendU32(append(out, 0x6b, 0x22), f.local)
	out = appendU32(append(out, 0x24), f.global)
	out = appendU32(append(out, 0x20), f.local)
	return append(out, 0x41, 0x00, 0x48, 0x04, 0x40, 0x00, 0x0b)
}

// appendRestore appends local.get $mine, global.set $stack.
func (f frame) appendRestore(out []byte) []byte {
	out = appendU32(append(out, 0x20), f.local)
	return appendU32(append(out, 0x24), f.global)
}

// appendCredit appends the frame's cost given back: $stack = $mine + cost.
func (f frame) appendCredit(out []byte) []byte {
	out = appendU32(append(out, 0x20), f.local)
	out = appendS32(append(out, 0x41), f.cost)
	return appendU32(append(out, 0x6a, 0x24), f.global)
}

// appendStackGlobal appends StackGlobal's global: a mutable i32 of
// startStackBudget.
func appendStackGlobal(content []byte) []byte {
	content = appendS32(append(content, 0x7f, 0x01, 0x41), startStackBudget)
	return append(content, 0x0b)
}

// typeParams reads the type section: the number of parameters of each
// type.
func typeParams(body []byte) ([]uint32, error) {
	r := &reader{b: body}
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(body)) {
		return nil, fmt.Errorf("%d types in %d bytes", n, len(body))
	}
	params := make([]uint32, 0, n)
	for k := n; k > 0 && r.err == nil; k-- {
		if b := r.byte(); b != 0x60 {
			r.bad(b, "type form")
		}
		p := r.u32()
		for c := p; c > 0 && r.err == nil; c-- {
			r.skipValType()
		}
		for c := r.u32(); c > 0 && r.err == nil; c-- {
			r.skipValType()
		}
		params = append(params, p)
	}
	if r.err != nil {
		return nil, r.fail("types")
	}
	return params, nil
}

// functionTypes reads the function section: the type of each defined
// function.
func functionTypes(body []byte) ([]uint32, error) {
	r := &reader{b: body}
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(body)) {
		return nil, fmt.Errorf("%d functions in %d bytes", n, len(body))
	}
	funcs := make([]uint32, 0, n)
	for k := n; k > 0 && r.err == nil; k-- {
		funcs = append(funcs, r.u32())
	}
	if r.err != nil {
		return nil, r.fail("function section")
	}
	if r.pos != len(body) {
		return nil, fmt.Errorf("%d bytes after the last function", len(body)-r.pos)
	}
	return funcs, nil
}

// setStackBudget sets the instance's StackGlobal, if it has one.
func setStackBudget(m api.Module, budget int32) {
	if g, ok := m.ExportedGlobal(StackGlobal).(api.MutableGlobal); ok && g.Type() == api.ValueTypeI32 {
		g.Set(api.EncodeI32(budget))
	}
}

// stackExhausted reports whether the instance trapped for its call stack's
// budget: its StackGlobal is below zero.
func stackExhausted(m api.Module) bool {
	g := m.ExportedGlobal(StackGlobal)
	return g != nil && g.Type() == api.ValueTypeI32 && api.DecodeI32(g.Get()) < 0
}

// stackMessage is the status message of a guest that exhausted its call
// stack's budget; err is wazero's trap, whose stack trace it keeps.
func stackMessage(budget int32, err error) string {
	msg := fmt.Sprintf("call stack exhausted: the guest's calls went past its budget of %d bytes of stack (a quarter of its memory limit, each frame charged the most its function can take)", budget)
	if _, trace, ok := strings.Cut(err.Error(), "\n"); ok {
		msg += "\n" + trace
	}
	return msg
}
