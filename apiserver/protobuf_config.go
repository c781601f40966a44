package apiserver

// `kubectl create configmap` and `create secret` send their objects
// through the typed core client, in protobuf. Field numbers are those of
// k8s.io/api/core/v1 generated.proto: ConfigMap metadata 1, data 2,
// binaryData 3, immutable 4; Secret metadata 1, data 2, type 3,
// stringData 4, immutable 5.

// configMapJSON reads a protobuf v1 ConfigMap into its JSON fields.
func configMapJSON(raw []byte, obj map[string]any) error {
	m, err := readMessage(raw)
	if err != nil {
		return err
	}
	if obj["metadata"], err = objectMetaJSON(m.bytes(1)); err != nil {
		return err
	}
	if e := m.all(2); len(e) > 0 {
		if obj["data"], err = stringMap(e); err != nil {
			return err
		}
	}
	if e := m.all(3); len(e) > 0 {
		if obj["binaryData"], err = bytesMap(e); err != nil {
			return err
		}
	}
	return immutableJSON(raw, 4, obj)
}

// secretJSON reads a protobuf v1 Secret into its JSON fields.
func secretJSON(raw []byte, obj map[string]any) error {
	m, err := readMessage(raw)
	if err != nil {
		return err
	}
	if obj["metadata"], err = objectMetaJSON(m.bytes(1)); err != nil {
		return err
	}
	if e := m.all(2); len(e) > 0 {
		if obj["data"], err = bytesMap(e); err != nil {
			return err
		}
	}
	if t := m.bytes(3); len(t) > 0 {
		obj["type"] = string(t)
	}
	if e := m.all(4); len(e) > 0 {
		if obj["stringData"], err = stringMap(e); err != nil {
			return err
		}
	}
	return immutableJSON(raw, 5, obj)
}

// bytesMap reads map<string, bytes> entries; JSON carries the values in
// base64, as encoding/json writes a []byte.
func bytesMap(entries [][]byte) (map[string][]byte, error) {
	kv := map[string][]byte{}
	for _, e := range entries {
		em, err := readMessage(e)
		if err != nil {
			return nil, err
		}
		kv[string(em.bytes(1))] = append([]byte{}, em.bytes(2)...)
	}
	return kv, nil
}

func immutableJSON(raw []byte, field int, obj map[string]any) error {
	ints, err := readVarints(raw)
	if err != nil {
		return err
	}
	if v, ok := ints[field]; ok {
		obj["immutable"] = v != 0
	}
	return nil
}
