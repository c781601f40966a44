package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/wasmlet/wasmlet/api"
)

// statusOf is err as a Status: a Status passes as is, anything else is an
// internal error.
func statusOf(err error) *api.Status {
	var st *api.Status
	if errors.As(err, &st) {
		return st
	}
	return internalError(err)
}

func internalError(err error) *api.Status { return api.NewInternalError(err) }

func unauthorized() *api.Status { return api.NewUnauthorized("Unauthorized") }

// notFoundPath is Kubernetes' answer to a path it does not serve.
func notFoundPath() *api.Status {
	return &api.Status{
		TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
		Code: http.StatusNotFound, Reason: api.StatusReasonNotFound,
		Message: "the server could not find the requested resource",
		Details: &api.StatusDetails{},
	}
}

func methodNotAllowed(method string) *api.Status {
	return &api.Status{
		TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
		Code: http.StatusMethodNotAllowed, Reason: api.StatusReasonMethodNotAllowed,
		Message: fmt.Sprintf("the server does not allow this method on the requested resource (%s)", method),
	}
}

// writeError writes err as a Status with its HTTP code.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := statusOf(err)
	code := int(st.Code)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	writeJSON(w, code, st)
}

// writeJSON writes v as JSON with code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(internalError(err))
		code = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// addWarnings adds one Warning header per text, as Kubernetes does
// (`299 - "unknown field \"spec.foo\""`).
func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, t := range warnings {
		w.Header().Add("Warning", "299 - "+strconv.Quote(t))
	}
}

// readBody reads a request body as JSON; YAML bodies are converted. Other
// content types are 415.
func readBody(r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt := "application/json"
	if ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, api.NewUnsupportedMediaType(ct)
		}
	}
	if r.Body == nil {
		return nil, api.NewBadRequest("the request has no body")
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, bodyError(err)
	}
	switch mt {
	case "application/json", "*/*":
		return b, nil
	case protobufContentType:
		return protobufBody(b)
	case "application/yaml", "application/x-yaml", "text/yaml":
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			return nil, api.NewBadRequest(fmt.Sprintf("the body of the request could not be decoded as YAML: %v", err))
		}
		return j, nil
	default:
		return nil, api.NewUnsupportedMediaType(ct)
	}
}

// mediaTypes are the entries of an Accept header.
type mediaType struct {
	typ    string
	params map[string]string
}

func parseAccept(h string) []mediaType {
	var out []mediaType
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		t, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		out = append(out, mediaType{typ: t, params: params})
	}
	return out
}

// wantsTable reports whether the client asks for a meta.k8s.io Table
// before any plain JSON.
func wantsTable(r *http.Request) bool {
	for _, m := range parseAccept(r.Header.Get("Accept")) {
		if m.params["as"] == "Table" && (m.params["g"] == "meta.k8s.io") &&
			(m.typ == "application/json" || m.typ == "*/*") {
			return true
		}
		if m.params["as"] == "" && (m.typ == "application/json" || m.typ == "*/*" || m.typ == "application/*") {
			return false
		}
	}
	return false
}

// acceptable reports whether JSON may be sent (an Accept that names
// only other formats, such as protobuf alone, is 406).
func acceptable(r *http.Request) bool {
	h := r.Header.Get("Accept")
	if h == "" {
		return true
	}
	for _, m := range parseAccept(h) {
		switch m.typ {
		case "application/json", "*/*", "application/*", "application/yaml":
			return true
		}
	}
	return false
}
