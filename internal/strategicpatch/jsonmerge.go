package strategicpatch

// CreateThreeWayJSONMergePatch computes a JSON merge patch (RFC 7386), as
// Kubernetes' jsonmergepatch does: from original (the last applied
// configuration, nil if none), modified (the file now) and current (the
// live object).
//
//   - A field in modified that current lacks or holds differently is set.
//   - A field in original that modified no longer has is removed (null).
//   - A field in neither stays as it is live (replicas set by scale,
//     fields the node defaulted or owns).
//
// Lists are replaced whole, as a merge patch does. Because the node fills
// defaults into list elements (containers' imagePullPolicy, ...), a list
// that the file states exactly as last applied is left alone even when the
// live one differs; otherwise every apply of an unchanged file would
// rewrite them. edit sends it with the object before the edit as both
// original and current.
func CreateThreeWayJSONMergePatch(original, modified, current map[string]any) map[string]any {
	patch := map[string]any{}
	for k, mv := range modified {
		cv, inCurrent := current[k]
		ov, inOriginal := original[k]
		if mm, ok := mv.(map[string]any); ok {
			cm, liveMap := cv.(map[string]any)
			if !liveMap {
				patch[k] = mv
				continue
			}
			om, _ := ov.(map[string]any)
			if sub := CreateThreeWayJSONMergePatch(om, mm, cm); len(sub) > 0 {
				patch[k] = sub
			}
			continue
		}
		if _, isList := mv.([]any); isList && inOriginal && inCurrent && jsonEqual(ov, mv) {
			if _, liveList := cv.([]any); liveList {
				continue
			}
		}
		if !inCurrent || !jsonEqual(cv, mv) {
			patch[k] = mv
		}
	}
	deleteRemoved(patch, original, modified, current)
	return patch
}

// deleteRemoved sets to null in patch the keys that the last applied
// configuration had, the file no longer has, and the live object still has:
// what both three-way patches delete.
func deleteRemoved(patch, original, modified, current map[string]any) {
	for k := range original {
		if _, still := modified[k]; still {
			continue
		}
		if _, live := current[k]; live {
			patch[k] = nil
		}
	}
}
