package apiserver_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestOpenAPIV2 reads /openapi/v2 as client-go asks for it (protobuf) and
// as a browser or curl does (JSON): a document without operations or
// schemas, pointing to /openapi/v3.
func TestOpenAPIV2(t *testing.T) {
	n := startNode(t, nil)
	resp, b := n.raw(t, "GET", "/openapi/v2", "", "", map[string]string{"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/com.github.proto-openapi.spec.v2.v1.0+protobuf" {
		t.Fatalf("protobuf: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Field 1 (swagger), length 3, "2.0"; then info, naming /openapi/v3.
	if !bytes.HasPrefix(b, []byte("\x0a\x032.0\x12")) || !bytes.Contains(b, []byte("/openapi/v3")) {
		t.Errorf("protobuf document: %q", b)
	}
	resp, b = n.raw(t, "GET", "/openapi/v2", "", "", map[string]string{"Accept": "application/json"})
	var doc struct {
		Swagger string
		Info    struct{ Title, Description string }
		Paths   map[string]any
	}
	if err := json.Unmarshal(b, &doc); err != nil || resp.StatusCode != 200 || doc.Swagger != "2.0" ||
		doc.Paths == nil || len(doc.Paths) != 0 || !strings.Contains(doc.Info.Description, "/openapi/v3") {
		t.Errorf("JSON: %d %s (%v)", resp.StatusCode, b, err)
	}
}
