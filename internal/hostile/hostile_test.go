package hostile

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasmlet/wasmlet/api"
)

// Every module is valid WebAssembly to wazero, as the node compiles it; the
// attacks are in what they do, not in a malformed binary. None is run here,
// and the compile bombs are compiled small: at their size their compilation
// is the attack.
func TestCorpusCompiles(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	small := map[string][]byte{
		"compile-locals":  CompileLocals(10),
		"compile-nesting": CompileNesting(10),
		"compile-brtable": CompileBrTable(10),
		"compile-size":    CompileSize(10),
	}
	for _, c := range Corpus("/etc/hostname") {
		if c.Finding == "compile" {
			if small[c.Name] == nil {
				t.Fatalf("%s: no small version to compile", c.Name)
			}
			c.Module = small[c.Name]
		}
		t.Run(c.Name, func(t *testing.T) {
			mod, err := rt.CompileModule(ctx, c.Module)
			if err != nil {
				t.Fatalf("CompileModule: %v", err)
			}
			defer mod.Close(ctx)
			if _, ok := mod.ExportedFunctions()["_start"]; !ok {
				t.Error("no _start: not a WASI command")
			}
			if _, ok := mod.ExportedMemories()["memory"]; !ok && c.Name != "hidden-memory" {
				t.Error("no exported memory: WASI calls cannot read their arguments")
			}
			for _, f := range mod.ImportedFunctions() {
				if m, _, _ := f.Import(); m != "wasi_snapshot_preview1" {
					t.Errorf("import from %q", m)
				}
			}
		})
	}
}

// Every pod is one the API accepts, named as its case, running the image it
// was given.
func TestCorpusPods(t *testing.T) {
	for _, c := range Corpus("/etc/hostname") {
		t.Run(c.Name, func(t *testing.T) {
			obj, warnings, err := api.Decode([]byte(c.Manifest(c.Name, "/images/"+c.Name+".wasm")))
			if err != nil {
				t.Fatalf("decode: %v\n%s", err, c.Manifest(c.Name, "x.wasm"))
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %v", warnings)
			}
			p, ok := obj.(*api.Pod)
			if !ok {
				t.Fatalf("%T, not a pod", obj)
			}
			p.Namespace = "default"
			api.Default(p)
			if errs := api.Validate(p); len(errs) > 0 {
				t.Fatalf("invalid: %v", errs)
			}
			if p.Name != c.Name || p.Spec.Containers[0].Image != "/images/"+c.Name+".wasm" {
				t.Errorf("pod %s runs %s", p.Name, p.Spec.Containers[0].Image)
			}
		})
	}
}

// The builder's encodings against bytes worked out by hand from the
// specification.
func TestEncoding(t *testing.T) {
	for _, tc := range []struct {
		got, want []byte
	}{
		{uleb(0), []byte{0}},
		{uleb(624485), []byte{0xe5, 0x8e, 0x26}},
		{sleb(-1), []byte{0x7f}},
		{sleb(63), []byte{0x3f}},
		{sleb(64), []byte{0xc0, 0x00}},
		{sleb(-123456), []byte{0xc0, 0xbb, 0x78}},
		{I32Const(0x7fffffff), []byte{0x41, 0xff, 0xff, 0xff, 0xff, 0x07}},
		{TableGrow(3), []byte{0xfc, 0x0f, 0x03}},
	} {
		if string(tc.got) != string(tc.want) {
			t.Errorf("% x, want % x", tc.got, tc.want)
		}
	}
	// The smallest command: (module (memory 1) (func (export "_start"))).
	var m Module
	m.Memory(1)
	m.Command()
	want := "0061736d01000000" + "010401600000" + "03020100" + "0503010001" +
		"071302" + "066d656d6f72790200" + "065f73746172740000" + "0a040102000b"
	if got := hexOf(m.Bytes()); got != want {
		t.Errorf("module\n%s, want\n%s", got, want)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}
