package hostile

// Instructions, each as its bytes, to be concatenated into a function's
// body. Blocks (Block, Loop, If) take no parameters and give no results.

const (
	opUnreachable = 0x00
	opBlock       = 0x02
	opLoop        = 0x03
	opIf          = 0x04
	opElse        = 0x05
	opEnd         = 0x0b
	opBr          = 0x0c
	opBrIf        = 0x0d
	opBrTable     = 0x0e
	opCall        = 0x10
	opDrop        = 0x1a
	opLocalGet    = 0x20
	opLocalSet    = 0x21
	opLocalTee    = 0x22
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opI32Load     = 0x28
	opI32Store    = 0x36
	opI32Store8   = 0x3a
	opMemorySize  = 0x3f
	opMemoryGrow  = 0x40
	opI32Const    = 0x41
	opI64Const    = 0x42
	opI32Eqz      = 0x45
	opI32Eq       = 0x46
	opI32Ne       = 0x47
	opI32LtU      = 0x49
	opI32GeU      = 0x4f
	opI32Add      = 0x6a
	opI32Sub      = 0x6b
	opI32Mul      = 0x6c
	opI32And      = 0x71
	opI32Or       = 0x72
	opI32Shl      = 0x74
	opI32ShrU     = 0x76
	opRefNull     = 0xd0
	opPrefixFC    = 0xfc
	opTableGrow   = 15 // after opPrefixFC
	blockEmpty    = 0x40
)

// Control.
var (
	Unreachable = []byte{opUnreachable}
	Block       = []byte{opBlock, blockEmpty}
	Loop        = []byte{opLoop, blockEmpty}
	If          = []byte{opIf, blockEmpty}
	Else        = []byte{opElse}
	End         = []byte{opEnd}
	Drop        = []byte{opDrop}
)

// Br branches to the enclosing block depth labels out (0: the innermost;
// a loop's label is its head).
func Br(depth uint32) []byte { return cat([]byte{opBr}, uleb(depth)) }

// BrIf is Br when the i32 on the stack is not zero.
func BrIf(depth uint32) []byte { return cat([]byte{opBrIf}, uleb(depth)) }

// BrTable branches to labels[i] for the i32 i on the stack, or to def when
// i is out of range.
func BrTable(labels []uint32, def uint32) []byte {
	b := cat([]byte{opBrTable}, uleb(uint32(len(labels))))
	for _, l := range labels {
		b = append(b, uleb(l)...)
	}
	return append(b, uleb(def)...)
}

// Call calls function f.
func Call(f uint32) []byte { return cat([]byte{opCall}, uleb(f)) }

// Variables.
func LocalGet(i uint32) []byte  { return cat([]byte{opLocalGet}, uleb(i)) }
func LocalSet(i uint32) []byte  { return cat([]byte{opLocalSet}, uleb(i)) }
func LocalTee(i uint32) []byte  { return cat([]byte{opLocalTee}, uleb(i)) }
func GlobalGet(i uint32) []byte { return cat([]byte{opGlobalGet}, uleb(i)) }
func GlobalSet(i uint32) []byte { return cat([]byte{opGlobalSet}, uleb(i)) }

// Constants.
func I32Const(v int32) []byte { return cat([]byte{opI32Const}, sleb(int64(v))) }
func I64Const(v int64) []byte { return cat([]byte{opI64Const}, sleb(v)) }

// Memory: loads and stores at the address on the stack plus offset, with
// natural alignment.
func I32Load(offset uint32) []byte   { return cat([]byte{opI32Load, 2}, uleb(offset)) }
func I32Store(offset uint32) []byte  { return cat([]byte{opI32Store, 2}, uleb(offset)) }
func I32Store8(offset uint32) []byte { return cat([]byte{opI32Store8, 0}, uleb(offset)) }

var (
	// MemoryGrow grows memory 0 by the pages on the stack and leaves the
	// old size in pages, or -1 when refused.
	MemoryGrow = []byte{opMemoryGrow, 0}
	MemorySize = []byte{opMemorySize, 0}
	// RefNullFunc is a null funcref, a table's fill value.
	RefNullFunc = []byte{opRefNull, byte(FuncRef)}
)

// TableGrow grows table t by the count on the stack, filled with the
// reference below it, and leaves the old size, or -1 when refused.
func TableGrow(t uint32) []byte { return cat([]byte{opPrefixFC}, uleb(opTableGrow), uleb(t)) }

// Arithmetic and comparisons on i32.
var (
	I32Eqz  = []byte{opI32Eqz}
	I32Eq   = []byte{opI32Eq}
	I32Ne   = []byte{opI32Ne}
	I32LtU  = []byte{opI32LtU}
	I32GeU  = []byte{opI32GeU}
	I32Add  = []byte{opI32Add}
	I32Sub  = []byte{opI32Sub}
	I32Mul  = []byte{opI32Mul}
	I32And  = []byte{opI32And}
	I32Or   = []byte{opI32Or}
	I32Shl  = []byte{opI32Shl}
	I32ShrU = []byte{opI32ShrU}
)

// Ops concatenates instructions, for building a body in parts.
func Ops(parts ...[]byte) []byte { return cat(parts...) }

// Calls beyond Call: Return leaves the function; ReturnCall is a tail
// call (tail calls); CallIndirect calls the function of type typ at the
// index on the stack in table t.
var Return = []byte{0x0f}

func ReturnCall(f uint32) []byte        { return cat([]byte{0x12}, uleb(f)) }
func CallIndirect(typ, t uint32) []byte { return cat([]byte{0x11}, uleb(typ), uleb(t)) }
func RefFunc(f uint32) []byte           { return cat([]byte{0xd2}, uleb(f)) }
func TableSet(t uint32) []byte          { return cat([]byte{0x26}, uleb(t)) }
func Throw(tag uint32) []byte           { return cat([]byte{0x08}, uleb(tag)) }
func TryTableCatchAll(label uint32) []byte {
	return cat([]byte{0x1f, blockEmpty, 1, 0x02}, uleb(label))
}
