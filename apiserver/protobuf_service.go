package apiserver

// `kubectl create service` sends its Service through the typed core
// client, in protobuf. These read the fields its generator sets and those
// a user may add: metadata, and of the spec ports (name, protocol,
// appProtocol, port, targetPort, nodePort), selector, clusterIP(s), type,
// externalIPs, sessionAffinity, externalName, externalTrafficPolicy,
// ipFamilies, ipFamilyPolicy and internalTrafficPolicy. Field numbers are
// those of k8s.io/api/core/v1 generated.proto.

// serviceJSON reads a protobuf v1 Service into its JSON fields.
func serviceJSON(raw []byte, obj map[string]any) error {
	m, err := readMessage(raw)
	if err != nil {
		return err
	}
	if obj["metadata"], err = objectMetaJSON(m.bytes(1)); err != nil {
		return err
	}
	specMsg := m.bytes(2)
	spec, err := readMessage(specMsg)
	if err != nil {
		return err
	}
	out := map[string]any{}
	var ports []map[string]any
	for _, pb := range spec.all(1) {
		p, err := servicePortJSON(pb)
		if err != nil {
			return err
		}
		ports = append(ports, p)
	}
	if ports != nil {
		out["ports"] = ports
	}
	if e := spec.all(2); len(e) > 0 {
		if out["selector"], err = stringMap(e); err != nil {
			return err
		}
	}
	for field, name := range map[int]string{3: "clusterIP", 4: "type", 7: "sessionAffinity", 10: "externalName", 11: "externalTrafficPolicy", 17: "ipFamilyPolicy", 22: "internalTrafficPolicy"} {
		if v := spec.bytes(field); len(v) > 0 {
			out[name] = string(v)
		}
	}
	for field, name := range map[int]string{5: "externalIPs", 18: "clusterIPs", 19: "ipFamilies"} {
		if v := spec.strings(field); len(v) > 0 {
			out[name] = v
		}
	}
	ints, err := readVarints(specMsg)
	if err != nil {
		return err
	}
	if v, ok := ints[13]; ok {
		out["publishNotReadyAddresses"] = v != 0
	}
	obj["spec"] = out
	return nil
}

// servicePortJSON reads a core/v1 ServicePort: name 1, protocol 2, port 3,
// targetPort 4 (IntOrString: type 1, intVal 2, strVal 3), nodePort 5,
// appProtocol 6.
func servicePortJSON(b []byte) (map[string]any, error) {
	m, err := readMessage(b)
	if err != nil {
		return nil, err
	}
	ints, err := readVarints(b)
	if err != nil {
		return nil, err
	}
	p := map[string]any{"port": int32(ints[3])}
	if v := m.bytes(1); len(v) > 0 {
		p["name"] = string(v)
	}
	if v := m.bytes(2); len(v) > 0 {
		p["protocol"] = string(v)
	}
	if v := m.bytes(6); len(v) > 0 {
		p["appProtocol"] = string(v)
	}
	if v, ok := ints[5]; ok && v != 0 {
		p["nodePort"] = int32(v)
	}
	if tb := m.all(4); len(tb) > 0 {
		t := tb[len(tb)-1]
		tm, err := readMessage(t)
		if err != nil {
			return nil, err
		}
		ti, err := readVarints(t)
		if err != nil {
			return nil, err
		}
		if ti[1] == 1 {
			p["targetPort"] = string(tm.bytes(3))
		} else if v := int32(ti[2]); v != 0 {
			p["targetPort"] = v
		}
	}
	return p, nil
}
