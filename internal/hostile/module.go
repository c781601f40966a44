package hostile

// A small writer of the WebAssembly binary format: enough of it to state
// each attack in a few readable lines, and nothing the attacks do not use.
// Function indices count imported functions first, as the format does, so
// every import is declared before the first function.

// ValType is a value type of the binary format.
type ValType byte

// The value types the attacks use.
const (
	I32     ValType = 0x7f
	I64     ValType = 0x7e
	FuncRef ValType = 0x70
)

// Export kinds and section ids.
const (
	kindFunc   = 0x00
	kindTable  = 0x01
	kindMemory = 0x02
	kindGlobal = 0x03

	secType     = 1
	secImport   = 2
	secFunction = 3
	secTable    = 4
	secMemory   = 5
	secTag      = 13
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secCode     = 10
	secData     = 11
)

// Module is a module being written. The zero value is an empty module.
type Module struct {
	types    [][]byte
	imports  [][]byte
	nImports uint32 // imported functions
	funcs    []uint32
	codes    [][]byte
	tables   [][]byte
	memories [][]byte
	tags     [][]byte
	globals  [][]byte
	exports  [][]byte
	start    []byte
	data     [][]byte
}

// typeIndex returns the index of the function type, adding it once.
func (m *Module) typeIndex(params, results []ValType) uint32 {
	t := cat([]byte{0x60}, valTypes(params), valTypes(results))
	for i, have := range m.types {
		if string(have) == string(t) {
			return uint32(i)
		}
	}
	m.types = append(m.types, t)
	return uint32(len(m.types) - 1)
}

// ImportFunc imports a function and returns its index.
func (m *Module) ImportFunc(module, name string, params, results []ValType) uint32 {
	if len(m.funcs) > 0 {
		panic("hostile: import after the first function")
	}
	ti := m.typeIndex(params, results)
	m.imports = append(m.imports, cat(str(module), str(name), []byte{kindFunc}, uleb(ti)))
	m.nImports++
	return m.nImports - 1
}

// WASI imports the wasi_snapshot_preview1 function name with its signature
// and returns its index.
func (m *Module) WASI(name string) uint32 {
	sig, ok := wasiSignatures[name]
	if !ok {
		panic("hostile: no WASI preview1 function " + name)
	}
	var results []ValType
	if name != "proc_exit" {
		results = []ValType{I32}
	}
	return m.ImportFunc("wasi_snapshot_preview1", name, sig, results)
}

// Memory declares a memory of min pages (64 KiB each), with a maximum
// when max is given, and exports it as "memory" (WASI reads arguments from
// it).
func (m *Module) Memory(min uint32, max ...uint32) {
	m.memories = append(m.memories, limitsOf(min, max))
	m.exports = append(m.exports, cat(str("memory"), []byte{kindMemory}, uleb(uint32(len(m.memories)-1))))
}

// Table declares a funcref table of min elements, with a maximum when max
// is given, and returns its index.
func (m *Module) Table(min uint32, max ...uint32) uint32 {
	m.tables = append(m.tables, cat([]byte{byte(FuncRef)}, limitsOf(min, max)))
	return uint32(len(m.tables) - 1)
}

// Tag declares an exception tag without parameters (exception handling)
// and returns its index.
func (m *Module) Tag() uint32 {
	m.tags = append(m.tags, cat([]byte{0x00}, uleb(m.typeIndex(nil, nil))))
	return uint32(len(m.tags) - 1)
}

// Global declares a mutable i32 global with the initial value v and
// returns its index.
func (m *Module) Global(v int32) uint32 {
	m.globals = append(m.globals, cat([]byte{byte(I32), 1}, I32Const(v), []byte{opEnd}))
	return uint32(len(m.globals) - 1)
}

// Func adds a function whose body is the concatenated instructions (the
// final end is added), and returns its index.
func (m *Module) Func(params, results, locals []ValType, body ...[]byte) uint32 {
	m.funcs = append(m.funcs, m.typeIndex(params, results))
	var decl [][]byte
	for _, l := range locals {
		decl = append(decl, []byte{1, byte(l)})
	}
	code := cat(vec(decl...), cat(body...), []byte{opEnd})
	m.codes = append(m.codes, cat(uleb(uint32(len(code))), code))
	return m.nImports + uint32(len(m.funcs)-1)
}

// FuncLocalGroup adds a function of no parameters and results whose
// locals are one group of count locals of type t: a few bytes that declare
// as many locals as a 32-bit count can.
func (m *Module) FuncLocalGroup(count uint32, t ValType, body ...[]byte) uint32 {
	m.funcs = append(m.funcs, m.typeIndex(nil, nil))
	code := cat(uleb(1), uleb(count), []byte{byte(t)}, cat(body...), []byte{opEnd})
	m.codes = append(m.codes, cat(uleb(uint32(len(code))), code))
	return m.nImports + uint32(len(m.funcs)-1)
}

// ExportFunc exports function f as name.
func (m *Module) ExportFunc(name string, f uint32) {
	m.exports = append(m.exports, cat(str(name), []byte{kindFunc}, uleb(f)))
}

// Start makes f the module's start function, run while it is
// instantiated, before any export is called.
func (m *Module) Start(f uint32) { m.start = uleb(f) }

// Data places b in memory 0 at offset when the module is instantiated.
func (m *Module) Data(offset uint32, b []byte) {
	m.data = append(m.data, cat([]byte{0}, I32Const(int32(offset)), []byte{opEnd}, uleb(uint32(len(b))), b))
}

// Command adds the WASI command's entry point: _start, whose body is the
// instructions given.
func (m *Module) Command(body ...[]byte) {
	m.ExportFunc("_start", m.Func(nil, nil, nil, body...))
}

// Bytes returns the module's binary.
func (m *Module) Bytes() []byte {
	out := []byte{0x00, 'a', 's', 'm', 1, 0, 0, 0}
	add := func(id byte, elems [][]byte) {
		if len(elems) > 0 {
			out = append(out, section(id, vec(elems...))...)
		}
	}
	add(secType, m.types)
	add(secImport, m.imports)
	funcs := make([][]byte, len(m.funcs))
	for i, ti := range m.funcs {
		funcs[i] = uleb(ti)
	}
	add(secFunction, funcs)
	add(secTable, m.tables)
	add(secMemory, m.memories)
	add(secTag, m.tags)
	add(secGlobal, m.globals)
	add(secExport, m.exports)
	if m.start != nil {
		out = append(out, section(secStart, m.start)...)
	}
	add(secCode, m.codes)
	add(secData, m.data)
	return out
}

func limitsOf(min uint32, max []uint32) []byte {
	if len(max) == 0 {
		return cat([]byte{0}, uleb(min))
	}
	return cat([]byte{1}, uleb(min), uleb(max[0]))
}

func valTypes(ts []ValType) []byte {
	b := uleb(uint32(len(ts)))
	for _, t := range ts {
		b = append(b, byte(t))
	}
	return b
}

func section(id byte, content []byte) []byte {
	return cat([]byte{id}, uleb(uint32(len(content))), content)
}

// vec is the format's vector: a count, then the elements.
func vec(elems ...[]byte) []byte {
	return cat(append([][]byte{uleb(uint32(len(elems)))}, elems...)...)
}

func str(s string) []byte { return cat(uleb(uint32(len(s))), []byte(s)) }

func uleb(v uint32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		done := (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0)
		if !done {
			c |= 0x80
		}
		b = append(b, c)
		if done {
			return b
		}
	}
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// wasiSignatures are the parameters of every wasi_snapshot_preview1
// function; each returns an errno (i32) but proc_exit.
var wasiSignatures = map[string][]ValType{
	"args_get":                {I32, I32},
	"args_sizes_get":          {I32, I32},
	"environ_get":             {I32, I32},
	"environ_sizes_get":       {I32, I32},
	"clock_res_get":           {I32, I32},
	"clock_time_get":          {I32, I64, I32},
	"fd_advise":               {I32, I64, I64, I32},
	"fd_allocate":             {I32, I64, I64},
	"fd_close":                {I32},
	"fd_datasync":             {I32},
	"fd_fdstat_get":           {I32, I32},
	"fd_fdstat_set_flags":     {I32, I32},
	"fd_fdstat_set_rights":    {I32, I64, I64},
	"fd_filestat_get":         {I32, I32},
	"fd_filestat_set_size":    {I32, I64},
	"fd_filestat_set_times":   {I32, I64, I64, I32},
	"fd_pread":                {I32, I32, I32, I64, I32},
	"fd_prestat_get":          {I32, I32},
	"fd_prestat_dir_name":     {I32, I32, I32},
	"fd_pwrite":               {I32, I32, I32, I64, I32},
	"fd_read":                 {I32, I32, I32, I32},
	"fd_readdir":              {I32, I32, I32, I64, I32},
	"fd_renumber":             {I32, I32},
	"fd_seek":                 {I32, I64, I32, I32},
	"fd_sync":                 {I32},
	"fd_tell":                 {I32, I32},
	"fd_write":                {I32, I32, I32, I32},
	"path_create_directory":   {I32, I32, I32},
	"path_filestat_get":       {I32, I32, I32, I32, I32},
	"path_filestat_set_times": {I32, I32, I32, I32, I64, I64, I32},
	"path_link":               {I32, I32, I32, I32, I32, I32, I32},
	"path_open":               {I32, I32, I32, I32, I32, I64, I64, I32, I32},
	"path_readlink":           {I32, I32, I32, I32, I32, I32},
	"path_remove_directory":   {I32, I32, I32},
	"path_rename":             {I32, I32, I32, I32, I32, I32},
	"path_symlink":            {I32, I32, I32, I32, I32},
	"path_unlink_file":        {I32, I32, I32},
	"poll_oneoff":             {I32, I32, I32, I32},
	"proc_exit":               {I32},
	"proc_raise":              {I32},
	"sched_yield":             {},
	"random_get":              {I32, I32},
	"sock_accept":             {I32, I32, I32},
	"sock_recv":               {I32, I32, I32, I32, I32, I32},
	"sock_send":               {I32, I32, I32, I32, I32},
	"sock_shutdown":           {I32, I32},
}
