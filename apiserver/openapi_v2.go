package apiserver

import (
	"encoding/binary"
	"net/http"
	"strings"
)

// /openapi/v2 is served as a document without operations or schemas:
// they are described in /openapi/v3, where kubectl looks first. kubectl
// reads v2 only when v3 does not know an object's kind (a misspelled
// `kind: RelicaSets`, a made-up group version): then its validation asks
// v2 whether the kind takes fieldValidation and, finding neither the
// kind nor a schema for it, lets the object through to its resource
// mapping, which names the kind that does not exist. That is what a
// cluster's full v2 document leads to as well; without any v2 document
// kubectl stops at "failed to download openapi" instead.
//
// A full v2 document would change nothing for kubectl but one thing
// for the worse: a Namespace operation that takes fieldValidation makes
// kubectl list CustomResourceDefinitions, which the node does not
// serve, before it gives up on an unknown kind.

// openAPIV2ProtobufType is the type of the protobuf answer. Clients ask
// for spec.v2@v1.0+protobuf, but an @ is not allowed in a media type and
// client-go refuses an answer of that type, so Kubernetes answers
// spec.v2.v1.0+protobuf.
const openAPIV2ProtobufType = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

const openAPIV2Description = "The operations and schemas of this server are described in /openapi/v3."

var openAPIV2JSON = []byte(`{"swagger":"2.0","info":{"title":"wasmlet","version":"v1","description":"` +
	openAPIV2Description + `"},"paths":{},"definitions":{}}`)

// openAPIV2Protobuf is the same document as gnostic's openapi.v2.Document,
// the encoding client-go asks for: swagger (1), info (2: title 1,
// version 2, description 3), paths (8) and definitions (9), both empty.
var openAPIV2Protobuf = func() []byte {
	var info []byte
	info = protobufString(info, 1, "wasmlet")
	info = protobufString(info, 2, "v1")
	info = protobufString(info, 3, openAPIV2Description)
	var doc []byte
	doc = protobufString(doc, 1, "2.0")
	doc = protobufString(doc, 2, string(info))
	doc = protobufString(doc, 8, "")
	doc = protobufString(doc, 9, "")
	return doc
}()

// protobufString appends a length-delimited field (a string, bytes or an
// embedded message) to b.
func protobufString(b []byte, field int, s string) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// serveOpenAPIV2 serves /openapi/v2: in protobuf when the client accepts
// it (client-go asks for nothing else), in JSON otherwise.
func (s *Server) serveOpenAPIV2(w http.ResponseWriter, r *http.Request) {
	b, ct := openAPIV2JSON, "application/json"
	if strings.Contains(r.Header.Get("Accept"), "protobuf") {
		b, ct = openAPIV2Protobuf, openAPIV2ProtobufType
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
