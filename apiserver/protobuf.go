package apiserver

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wasmlet/wasmlet/api"
)

// kubectl's typed clients (`kubectl create namespace`) send their bodies in
// Kubernetes' protobuf encoding, and client-go does not fall back to JSON
// when a server refuses it. wasmlet reads the protobuf of the few objects
// kubectl builds itself and answers in JSON, which those clients accept.
// Only the fields a user can set on them are read.

// protobufMagic starts every protobuf body of Kubernetes.
var protobufMagic = []byte("k8s\x00")

const protobufContentType = "application/vnd.kubernetes.protobuf"

// protobufToJSON turns a protobuf body (magic, runtime.Unknown, object)
// into the JSON of the object.
func protobufToJSON(b []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(b, protobufMagic)
	if !ok {
		return nil, errors.New("not a Kubernetes protobuf message")
	}
	unknown, err := readMessage(rest)
	if err != nil {
		return nil, err
	}
	tm, err := readMessage(unknown.bytes(1))
	if err != nil {
		return nil, err
	}
	apiVersion, kind := string(tm.bytes(1)), string(tm.bytes(2))
	raw := unknown.bytes(2)
	obj := map[string]any{"apiVersion": apiVersion, "kind": kind}
	switch {
	case apiVersion == "v1" && kind == "Namespace":
		m, err := readMessage(raw)
		if err != nil {
			return nil, err
		}
		meta, err := objectMetaJSON(m.bytes(1))
		if err != nil {
			return nil, err
		}
		obj["metadata"] = meta
		spec, err := readMessage(m.bytes(2))
		if err != nil {
			return nil, err
		}
		if fins := spec.strings(1); len(fins) > 0 {
			obj["spec"] = map[string]any{"finalizers": fins}
		}
	case apiVersion == "v1" && kind == "ConfigMap":
		if err := configMapJSON(raw, obj); err != nil {
			return nil, err
		}
	case apiVersion == "v1" && kind == "Secret":
		if err := secretJSON(raw, obj); err != nil {
			return nil, err
		}
	case apiVersion == "apps/v1" && kind == "Deployment":
		if err := deploymentJSON(raw, obj); err != nil {
			return nil, err
		}
	case apiVersion == "v1" && kind == "Service":
		if err := serviceJSON(raw, obj); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("this node reads only JSON or YAML bodies for %s %s (send them as application/json)", apiVersion, kind)
	}
	return json.Marshal(obj)
}

// objectMetaJSON reads the fields of ObjectMeta a client may set.
func objectMetaJSON(b []byte) (map[string]any, error) {
	m, err := readMessage(b)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for field, name := range map[int]string{1: "name", 2: "generateName", 3: "namespace", 6: "resourceVersion"} {
		if v := m.bytes(field); len(v) > 0 {
			out[name] = string(v)
		}
	}
	for field, name := range map[int]string{11: "labels", 12: "annotations"} {
		entries := m.all(field)
		if len(entries) == 0 {
			continue
		}
		kv := map[string]string{}
		for _, e := range entries {
			em, err := readMessage(e)
			if err != nil {
				return nil, err
			}
			kv[string(em.bytes(1))] = string(em.bytes(2))
		}
		out[name] = kv
	}
	if fins := m.strings(14); len(fins) > 0 {
		out["finalizers"] = fins
	}
	return out, nil
}

// message is a decoded protobuf message: the length-delimited values of
// each field number, in order (varint and fixed fields are skipped: none
// of the fields read above has one).
type message map[int][][]byte

func (m message) bytes(field int) []byte {
	if v := m[field]; len(v) > 0 {
		return v[len(v)-1]
	}
	return nil
}

func (m message) all(field int) [][]byte { return m[field] }

func (m message) strings(field int) []string {
	var out []string
	for _, v := range m[field] {
		out = append(out, string(v))
	}
	return out
}

var errTruncated = errors.New("truncated protobuf message")

func readMessage(b []byte) (message, error) {
	m := message{}
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errTruncated
		}
		b = b[n:]
		field, wire := int(key>>3), key&7
		switch wire {
		case 0: // varint
			_, n := binary.Uvarint(b)
			if n <= 0 {
				return nil, errTruncated
			}
			b = b[n:]
		case 1: // 64-bit
			if len(b) < 8 {
				return nil, errTruncated
			}
			b = b[8:]
		case 2: // length-delimited
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, errTruncated
			}
			m[field] = append(m[field], b[n:n+int(l)])
			b = b[n+int(l):]
		case 5: // 32-bit
			if len(b) < 4 {
				return nil, errTruncated
			}
			b = b[4:]
		default:
			return nil, fmt.Errorf("unsupported protobuf wire type %d", wire)
		}
	}
	return m, nil
}

// protobufBody is readBody's converter for protobuf bodies.
func protobufBody(b []byte) ([]byte, error) {
	j, err := protobufToJSON(b)
	if err != nil {
		st := api.NewUnsupportedMediaType(protobufContentType)
		st.Message = err.Error()
		return nil, st
	}
	return j, nil
}
