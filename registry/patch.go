package registry

import (
	"context"
	"fmt"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/strategicpatch"
)

// PatchOptions are the options of a patch request.
type PatchOptions struct {
	WriteOptions
	// Subresource is "" for the object, or "status".
	Subresource string
}

// Patch applies a patch of type pt to the stored object and writes the
// result by the rules of Update.
func (r *Registry) Patch(ctx context.Context, res *api.ResourceInfo, namespace, name string, pt PatchType, data []byte) (api.Object, error) {
	obj, _, err := r.PatchWith(ctx, res, namespace, name, pt, data, PatchOptions{})
	return obj, err
}

// PatchWith is Patch with options; it returns the warnings of field
// validation.
//
// The patch is applied to the stored object; the result is decoded with
// opts.FieldValidation, then written as an update of the object (its
// status kept) or of its status (its spec and metadata kept). A
// resourceVersion in the patch is a precondition; without one the patch
// is retried on the newest object until it applies. A patch that changes
// nothing writes nothing.
func (r *Registry) PatchWith(ctx context.Context, res *api.ResourceInfo, namespace, name string, pt PatchType, data []byte, opts PatchOptions) (api.Object, []string, error) {
	if err := checkPatchType(pt); err != nil {
		return nil, nil, err
	}
	switch opts.Subresource {
	case "", "status":
	default:
		return nil, nil, api.NewNotFound(res.Group, res.Resource+"/"+opts.Subresource, name)
	}
	ns := namespaceOf(res, namespace)
	var warnings []string
	out, err := r.guaranteedUpdate(ctx, res, ns, name, opts.WriteOptions, func(cur api.Object) (api.Object, error) {
		curMap, err := toMap(cur)
		if err != nil {
			return nil, err
		}
		patched, err := applyPatch(curMap, pt, data, res.Kind)
		if err != nil {
			return nil, err
		}
		in, w, err := decodeMap(res, patched, opts.FieldValidation)
		if err != nil {
			return nil, err
		}
		warnings = w
		m, cm := in.GetObjectMeta(), cur.GetObjectMeta()
		if m.Name != cm.Name {
			return nil, api.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.Name, cm.Name))
		}
		if res.Namespaced && m.Namespace != cm.Namespace {
			return nil, api.NewBadRequest("the namespace of the object does not match the namespace on the URL")
		}
		if err := checkPreconditions(res, cur, m.UID, m.ResourceVersion); err != nil {
			return nil, err
		}
		if opts.Subresource == "status" {
			return r.prepareStatusUpdate(res, in, cur)
		}
		return r.prepareUpdate(res, in, cur)
	})
	if err != nil {
		return nil, nil, err
	}
	return out, warnings, nil
}

func checkPatchType(pt PatchType) error {
	switch pt {
	case JSONPatch, MergePatch, StrategicMergePatch:
		return nil
	case ApplyPatch:
		return &api.Status{
			TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
			Code: 415, Reason: api.StatusReasonUnsupportedMediaType,
			Message: "server-side apply (application/apply-patch+yaml) is not supported by this node; use client-side apply (kubectl apply without --server-side)",
		}
	default:
		return &api.Status{
			TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
			Code: 415, Reason: api.StatusReasonUnsupportedMediaType,
			Message: fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s", JSONPatch, MergePatch, StrategicMergePatch),
		}
	}
}

// applyPatch applies data, a patch of type pt, to doc (which it may
// modify) and returns the patched object.
func applyPatch(doc map[string]any, pt PatchType, data []byte, kind string) (map[string]any, error) {
	var out any
	switch pt {
	case JSONPatch:
		var err error
		if out, err = applyJSONPatch(doc, data); err != nil {
			return nil, err
		}
	case MergePatch, StrategicMergePatch:
		p, err := decodeJSON(data)
		if err != nil {
			return nil, api.NewBadRequest(fmt.Sprintf("unable to parse the patch: %v", err))
		}
		pm, ok := p.(map[string]any)
		if !ok {
			return nil, api.NewBadRequest("the patch is not a JSON object")
		}
		if pt == MergePatch {
			out = applyMergePatch(doc, pm)
		} else {
			merged, err := strategicpatch.StrategicMergeMapPatch(kind, doc, pm)
			if err != nil {
				return nil, api.NewBadRequest(err.Error())
			}
			out = merged
		}
	default:
		return nil, checkPatchType(pt)
	}
	m, ok := out.(map[string]any)
	if !ok || m == nil {
		return nil, api.NewBadRequest("the patch does not leave an object")
	}
	return m, nil
}
