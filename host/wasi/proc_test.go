package wasi_test

import (
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet/host/wasi"
)

func TestExit(t *testing.T) {
	tests := []struct {
		name    string
		example string
		cfg     wasi.Config
		code    uint32
		stdout  string
	}{
		{name: "hello", example: "hello", cfg: wasi.Config{Args: []string{"hello"}, Env: []string{"HOSTNAME=pod-a"}}, stdout: "Hello from pod-a!\n"},
		{name: "tiny", example: "tiny", stdout: "hello from tiny\n"},
		{name: "exit code", example: "crash", cfg: wasi.Config{Args: []string{"crash", "-code", "3", "-after", "1ms"}}, code: 3, stdout: "exiting with code 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out syncBuffer
			tt.cfg.Stdout = &out
			inst := start(t, tt.example, tt.cfg)
			st := inst.Wait()
			if st.Code != tt.code || st.Killed || st.OOMKilled {
				t.Errorf("status = %+v, want code %d", st, tt.code)
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout = %q, want %q in it", out.String(), tt.stdout)
			}
		})
	}
}
