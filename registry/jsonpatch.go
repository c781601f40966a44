package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/wasmlet/wasmlet/api"
)

// PatchType names a patch format by the content type it travels with.
type PatchType string

// The patch formats Kubernetes accepts, by their HTTP content types.
const (
	// JSONPatch is RFC 6902: a list of add, remove, replace, move, copy
	// and test operations on JSON pointers.
	JSONPatch PatchType = "application/json-patch+json"
	// MergePatch is RFC 7386: an object merged into the object, null
	// removing a field; lists are replaced whole.
	MergePatch PatchType = "application/merge-patch+json"
	// StrategicMergePatch is Kubernetes' merge patch that merges lists of
	// objects element by element by their patch merge key (containers by
	// name, ports by containerPort, ...), with the $patch, $retainKeys,
	// $deleteFromPrimitiveList and $setElementOrder directives.
	StrategicMergePatch PatchType = "application/strategic-merge-patch+json"
	// ApplyPatch is server-side apply, which wasmlet does not implement.
	ApplyPatch PatchType = "application/apply-patch+yaml"
)

// decodeJSON decodes b keeping numbers exact (json.Number), as patches of
// large integers need.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("invalid character after top-level value")
	}
	return v, nil
}

// applyMergePatch applies an RFC 7386 merge patch to doc.
func applyMergePatch(doc, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	dm, ok := doc.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(dm, k)
			continue
		}
		dm[k] = applyMergePatch(dm[k], v)
	}
	return dm
}

// The bounds of a JSON patch, Kubernetes' own: a patch is a list of
// operations that each may grow the object, and copy can double it, so
// that a few kilobytes of patch can ask for gigabytes. The result is
// bounded before it exists: the values of add, replace and test come from
// the patch, which the request body limit bounds; what copy adds is
// counted as it is made, and refused past maxJSONPatchCopyBytes
// (kube-apiserver's --json-patch-max-copy-bytes default, twice the object
// limit). The result is then held to MaxObjectBytes as every write is.
const (
	// maxJSONPatchOperations is kube-apiserver's maxJSONPatchOperations.
	maxJSONPatchOperations = 10000
	// maxJSONPatchCopyBytes bounds the bytes copy operations add, all of
	// them together.
	maxJSONPatchCopyBytes = 2 * MaxObjectBytes
)

// applyJSONPatch applies an RFC 6902 patch to doc and returns the result.
// It is evanphx/json-patch's, the implementation Kubernetes applies, with
// Kubernetes' bounds.
func applyJSONPatch(doc map[string]any, patch []byte) (any, error) {
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, api.NewBadRequest(err.Error())
	}
	if len(p) > maxJSONPatchOperations {
		return nil, api.NewRequestEntityTooLarge(fmt.Sprintf("Request entity too large: The allowed maximum operations in a JSON patch is %d, got %d",
			maxJSONPatchOperations, len(p)))
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, api.NewInternalError(err)
	}
	opts := jsonpatch.NewApplyOptions()
	opts.AccumulatedCopySizeLimit = maxJSONPatchCopyBytes
	out, err := p.ApplyWithOptions(raw, opts)
	var tooLarge *jsonpatch.AccumulatedCopySizeError
	switch {
	case errors.As(err, &tooLarge):
		return nil, api.NewRequestEntityTooLarge("Request entity too large: " + err.Error())
	case err != nil:
		// Kubernetes answers 422 for a patch that does not apply (a test
		// that fails, a path that is not there).
		return nil, &api.Status{
			TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
			Code: http.StatusUnprocessableEntity, Reason: api.StatusReasonInvalid,
			Message: "the JSON patch could not be applied: " + err.Error(),
		}
	}
	if len(out) > maxPatchedBytes {
		return nil, objectTooLarge(len(out))
	}
	v, err := decodeJSON(out)
	if err != nil {
		return nil, api.NewInternalError(err)
	}
	return v, nil
}
