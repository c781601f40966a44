package strategicpatch

// CreateThreeWayMergePatch computes the strategic merge patch that apply
// sends for an object of kind, from original (the last applied
// configuration, nil if none), modified (the file now) and current (the
// live object), as kubectl computes it:
//
//   - what modified sets that current lacks or holds differently is set;
//   - what original had and modified no longer has is deleted: a field is
//     set to null, an element of a list merged by key gets
//     `$patch: delete`, a value of a list merged as a set is listed under
//     `$deleteFromPrimitiveList/`;
//   - what neither has stays as it is live (replicas set by scale, fields
//     the node defaulted, env vars another client added).
//
// Lists merged by key (containers by name, env by name, ports by
// containerPort, ... from the table StrategicMergeMapPatch merges by, the
// same facts the OpenAPI documents publish) are compared element by element, so the defaults the
// node fills into elements never count as changes. Other lists are
// replaced whole when they differ; one stated exactly as last applied is
// left alone, since the node may have filled defaults into it.
func CreateThreeWayMergePatch(kind string, original, modified, current map[string]any) map[string]any {
	return strategicDiff(kind, nil, original, modified, current)
}

func strategicDiff(kind string, path []string, original, modified, current map[string]any) map[string]any {
	patch := map[string]any{}
	for k, mv := range modified {
		p := append(path[:len(path):len(path)], k)
		cv, inCurrent := current[k]
		ov, inOriginal := original[k]
		switch mv := mv.(type) {
		case map[string]any:
			cm, ok := cv.(map[string]any)
			if !ok {
				patch[k] = mv
				continue
			}
			om, _ := ov.(map[string]any)
			if sub := strategicDiff(kind, p, om, mv, cm); len(sub) > 0 {
				patch[k] = sub
			}
		case []any:
			cl, liveList := cv.([]any)
			ol, _ := ov.([]any)
			strategy, key, _ := ListPatchStrategy(kind, p)
			switch {
			case liveList && strategy == "merge" && key != "" && allMaps(mv) && allMaps(cl):
				if l := keyedListDiff(kind, p, key, ol, mv, cl); len(l) > 0 {
					patch[k] = l
					order := make([]any, 0, len(mv))
					for _, e := range mv {
						order = append(order, map[string]any{key: e.(map[string]any)[key]})
					}
					patch["$setElementOrder/"+k] = order
				}
			case liveList && strategy == "merge" && key == "":
				add, del := setDiff(ol, mv, cl)
				if len(add) > 0 {
					patch[k] = add
				}
				if len(del) > 0 {
					patch["$deleteFromPrimitiveList/"+k] = del
				}
			case inOriginal && liveList && jsonEqual(ov, mv):
				// As last applied: the node may have filled defaults in.
			case !inCurrent || !jsonEqual(cv, mv):
				patch[k] = mv
			}
		default:
			if !inCurrent || !jsonEqual(cv, mv) {
				patch[k] = mv
			}
		}
	}
	deleteRemoved(patch, original, modified, current)
	return patch
}

func allMaps(l []any) bool {
	for _, e := range l {
		if _, ok := e.(map[string]any); !ok {
			return false
		}
	}
	return true
}

// mergeKeyOf is an element's merge key value in a comparable form (a
// port number decoded as json.Number or float64 alike), the one the merge
// finds elements by.
func mergeKeyOf(e any, key string) string {
	return valueKey(e.(map[string]any)[key])
}

// keyedListDiff is the patch of a list merged by key: new elements whole,
// changed ones as their own patch with the key, removed ones (in original,
// gone from modified) as `$patch: delete`.
func keyedListDiff(kind string, path []string, key string, original, modified, current []any) []any {
	byKey := func(l []any) map[string]map[string]any {
		m := map[string]map[string]any{}
		for _, e := range l {
			if em, ok := e.(map[string]any); ok {
				m[mergeKeyOf(em, key)] = em
			}
		}
		return m
	}
	orig, cur, mod := byKey(original), byKey(current), byKey(modified)
	var out []any
	for _, e := range modified {
		me := e.(map[string]any)
		k := mergeKeyOf(me, key)
		ce, live := cur[k]
		if !live {
			out = append(out, me)
			continue
		}
		if sub := strategicDiff(kind, path, orig[k], me, ce); len(sub) > 0 {
			sub[key] = me[key]
			out = append(out, sub)
		}
	}
	for _, e := range original {
		oe, ok := e.(map[string]any)
		if !ok {
			continue
		}
		k := mergeKeyOf(oe, key)
		if _, kept := mod[k]; kept {
			continue
		}
		if _, live := cur[k]; live {
			out = append(out, map[string]any{key: oe[key], "$patch": "delete"})
		}
	}
	return out
}

// setDiff is the patch of a list of values merged as a set (finalizers):
// the values to add, and those to delete.
func setDiff(original, modified, current []any) (add, del []any) {
	has := func(l []any, v any) bool {
		for _, e := range l {
			if jsonEqual(e, v) {
				return true
			}
		}
		return false
	}
	for _, v := range modified {
		if !has(current, v) {
			add = append(add, v)
		}
	}
	for _, v := range original {
		if !has(modified, v) && has(current, v) {
			del = append(del, v)
		}
	}
	return add, del
}
