package main

import (
	"bytes"
	"testing"
)

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name    string
		msg     []byte
		service string
		wantErr bool
	}{
		{"empty", nil, "", false},
		{"service", []byte{0x0a, 3, 'w', 'e', 'b'}, "web", false},
		{"unknown fields skipped", []byte{0x10, 0x96, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x0a, 1, 'x'}, "x", false},
		{"unknown bytes field", []byte{0x12, 2, 'a', 'b', 0x0a, 1, 'y'}, "y", false},
		{"length past end", []byte{0x0a, 9, 'a'}, "", true},
		{"truncated varint", []byte{0x10, 0x80}, "", true},
		{"group wire type", []byte{0x0b}, "", true},
		{"short fixed64", []byte{0x09, 1}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRequest(tt.msg)
			if (err != nil) != tt.wantErr || got != tt.service {
				t.Errorf("got %q, %v; want %q, error %v", got, err, tt.service, tt.wantErr)
			}
		})
	}
}

func TestReadRequest(t *testing.T) {
	framed := []byte{0, 0, 0, 0, 5, 0x0a, 3, 'w', 'e', 'b'}
	if got, err := readRequest(bytes.NewReader(framed)); err != nil || got != "web" {
		t.Errorf("framed: %q, %v", got, err)
	}
	if got, err := readRequest(bytes.NewReader(nil)); err != nil || got != "" {
		t.Errorf("no message: %q, %v", got, err)
	}
	for _, bad := range [][]byte{{1, 0, 0, 0, 0}, {0, 0xff, 0, 0, 0}, {0, 0, 0, 0, 5, 0x0a}, {0, 0}} {
		if _, err := readRequest(bytes.NewReader(bad)); err == nil {
			t.Errorf("%x: want an error", bad)
		}
	}
}

func TestEncodeResponse(t *testing.T) {
	if got, want := encodeResponse(statusNotServing), []byte{0, 0, 0, 0, 2, 0x08, 2}; !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
}

func FuzzReadRequest(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 5, 0x0a, 3, 'w', 'e', 'b'})
	f.Add([]byte{0, 0, 0, 0, 2, 0x10, 0x80})
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		readRequest(bytes.NewReader(data))
		decodeRequest(data)
	})
}
