package hostile

// DeepRecursion is the call stack's attack: a function with locals i64
// locals, each set from a global before it calls itself and summed after
// the call, so that every one is live across the call and the compiler
// keeps a slot for each in the frame; it recurses without end. wazero's
// compiler keeps the guest's call stack on the node's heap and doubles it
// up to a fixed ceiling of about 100 MB: a guest limited to 1Mi made the
// node allocate 161 MB before it trapped, whatever its frames, and ten of
// them at once take 1.6 GB. A node that bounds the stack ends the guest
// with a trap (134) that says so.
func DeepRecursion(locals int) []byte {
	g := newGuest(1)
	depth := g.m.Global(0)
	self := g.m.nImports + uint32(len(g.m.funcs))
	types := make([]ValType, locals)
	body := [][]byte{GlobalGet(depth), I32Const(1), I32Add, GlobalSet(depth)}
	for i := range locals {
		types[i] = I64
		body = append(body, GlobalGet(depth), I32Const(int32(i)), I32Add, i64ExtendI32U, LocalSet(uint32(i)))
	}
	body = append(body, Call(self))
	if locals > 0 {
		body = append(body, LocalGet(0))
		for i := 1; i < locals; i++ {
			body = append(body, LocalGet(uint32(i)), i64Add)
		}
		body = append(body, i32WrapI64, GlobalSet(depth))
	}
	g.m.Func(nil, nil, types, body...)
	return g.Command(Call(self))
}

// DeepRecursionLocals is the corpus's frame: 1,000 i64 locals live across
// each call, about 8 KiB a frame as wazero's compiler lays it out.
const DeepRecursionLocals = 1000

var (
	i64ExtendI32U = []byte{0xad}
	i64Add        = []byte{0x7c}
	i32WrapI64    = []byte{0xa7}
)
