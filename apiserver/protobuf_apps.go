package apiserver

import (
	"encoding/binary"
	"fmt"
)

// `kubectl create deployment` sends its Deployment through the typed apps
// client, in protobuf. These read the fields its generator sets (and the
// few a user's --save-config, -n and flags add): metadata, replicas, the
// selector's matchLabels, and the template's labels and containers (name,
// image, command, args, ports). Field numbers are those of
// k8s.io/api/apps/v1 and core/v1 generated.proto.

// deploymentJSON reads a protobuf apps/v1 Deployment into its JSON fields.
func deploymentJSON(raw []byte, obj map[string]any) error {
	m, err := readMessage(raw)
	if err != nil {
		return err
	}
	meta, err := objectMetaJSON(m.bytes(1))
	if err != nil {
		return err
	}
	obj["metadata"] = meta
	specMsg := m.bytes(2)
	spec, err := readMessage(specMsg)
	if err != nil {
		return err
	}
	out := map[string]any{}
	ints, err := readVarints(specMsg)
	if err != nil {
		return err
	}
	if v, ok := ints[1]; ok {
		out["replicas"] = int32(v)
	}
	if sel := spec.bytes(2); sel != nil {
		s, err := readMessage(sel)
		if err != nil {
			return err
		}
		labels, err := stringMap(s.all(1))
		if err != nil {
			return err
		}
		out["selector"] = map[string]any{"matchLabels": labels}
	}
	if t := spec.bytes(3); t != nil {
		tmpl, err := podTemplateJSON(t)
		if err != nil {
			return err
		}
		out["template"] = tmpl
	}
	obj["spec"] = out
	return nil
}

// podTemplateJSON reads a core/v1 PodTemplateSpec: metadata and containers.
func podTemplateJSON(b []byte) (map[string]any, error) {
	t, err := readMessage(b)
	if err != nil {
		return nil, err
	}
	meta, err := objectMetaJSON(t.bytes(1))
	if err != nil {
		return nil, err
	}
	ps, err := readMessage(t.bytes(2))
	if err != nil {
		return nil, err
	}
	var containers []any
	for _, cb := range ps.all(2) {
		c, err := readMessage(cb)
		if err != nil {
			return nil, err
		}
		ctr := map[string]any{"name": string(c.bytes(1)), "image": string(c.bytes(2))}
		if cmd := c.strings(3); len(cmd) > 0 {
			ctr["command"] = cmd
		}
		if args := c.strings(4); len(args) > 0 {
			ctr["args"] = args
		}
		var ports []any
		for _, pb := range c.all(6) {
			p, err := readMessage(pb)
			if err != nil {
				return nil, err
			}
			ints, err := readVarints(pb)
			if err != nil {
				return nil, err
			}
			port := map[string]any{"containerPort": int32(ints[3])}
			if n := p.bytes(1); len(n) > 0 {
				port["name"] = string(n)
			}
			if pr := p.bytes(4); len(pr) > 0 {
				port["protocol"] = string(pr)
			}
			ports = append(ports, port)
		}
		if len(ports) > 0 {
			ctr["ports"] = ports
		}
		containers = append(containers, ctr)
	}
	spec := map[string]any{}
	if containers != nil {
		spec["containers"] = containers
	}
	if rp := ps.bytes(3); len(rp) > 0 {
		spec["restartPolicy"] = string(rp)
	}
	return map[string]any{"metadata": meta, "spec": spec}, nil
}

// stringMap reads the entries of a map<string, string> field.
func stringMap(entries [][]byte) (map[string]string, error) {
	kv := map[string]string{}
	for _, e := range entries {
		em, err := readMessage(e)
		if err != nil {
			return nil, err
		}
		kv[string(em.bytes(1))] = string(em.bytes(2))
	}
	return kv, nil
}

// readVarints returns the last varint value of each varint field of a
// message (readMessage keeps only the length-delimited ones).
func readVarints(b []byte) (map[int]uint64, error) {
	out := map[int]uint64{}
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errTruncated
		}
		b = b[n:]
		field, wire := int(key>>3), key&7
		switch wire {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return nil, errTruncated
			}
			out[field] = v
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return nil, errTruncated
			}
			b = b[8:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, errTruncated
			}
			b = b[n+int(l):]
		case 5:
			if len(b) < 4 {
				return nil, errTruncated
			}
			b = b[4:]
		default:
			return nil, fmt.Errorf("unsupported protobuf wire type %d", wire)
		}
	}
	return out, nil
}
