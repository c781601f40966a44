package apiserver

import (
	"encoding/binary"
	"encoding/json"
	"reflect"
	"testing"
)

// pb builds protobuf fields as Kubernetes' generated code writes them.
func pbVarint(field int, v uint64) []byte {
	b := binary.AppendUvarint(nil, uint64(field)<<3)
	return binary.AppendUvarint(b, v)
}

func pbBytes(field int, parts ...[]byte) []byte {
	var body []byte
	for _, p := range parts {
		body = append(body, p...)
	}
	b := binary.AppendUvarint(nil, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(body)))
	return append(b, body...)
}

func pbString(field int, s string) []byte { return pbBytes(field, []byte(s)) }

func pbLabels(field int, k, v string) []byte { return pbBytes(field, pbString(1, k), pbString(2, v)) }

// kubectlDeployment is the body of `kubectl create deployment web
// --image=reg/web:1 --replicas=N --port=80 -- run`, as its typed client
// sends it.
func kubectlDeployment(replicas int32) []byte {
	labels := pbLabels(11, "app", "web")
	container := pbBytes(2, pbString(1, "web"), pbString(2, "reg/web:1"), pbString(3, "run"),
		pbBytes(6, pbVarint(3, 80)), pbBytes(8))
	spec := pbBytes(2,
		pbVarint(1, uint64(int64(replicas))),
		pbBytes(2, pbLabels(1, "app", "web")),
		pbBytes(3, pbBytes(1, labels), pbBytes(2, container)),
		pbBytes(4))
	obj := append(pbBytes(1, pbString(1, "web"), labels), spec...)
	obj = append(obj, pbBytes(3)...)
	unknown := append(pbBytes(1, pbString(1, "apps/v1"), pbString(2, "Deployment")), pbBytes(2, obj)...)
	return append([]byte("k8s\x00"), unknown...)
}

func TestProtobufDeployment(t *testing.T) {
	for _, replicas := range []int32{3, 0, -1} {
		j, err := protobufToJSON(kubectlDeployment(replicas))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(j, &got); err != nil {
			t.Fatal(err)
		}
		labels := map[string]any{"app": "web"}
		want := map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web", "labels": labels},
			"spec": map[string]any{
				"replicas": float64(replicas),
				"selector": map[string]any{"matchLabels": labels},
				"template": map[string]any{
					"metadata": map[string]any{"labels": labels},
					"spec": map[string]any{"containers": []any{map[string]any{
						"name": "web", "image": "reg/web:1", "command": []any{"run"},
						"ports": []any{map[string]any{"containerPort": float64(80)}},
					}}},
				},
			},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("replicas %d:\n got %s\nwant %v", replicas, j, want)
		}
	}
	// Cut anywhere, the body is an error, never a panic or a half object.
	b := kubectlDeployment(2)
	for i := 5; i < len(b); i++ {
		if j, err := protobufToJSON(b[:i]); err == nil {
			var m map[string]any
			if json.Unmarshal(j, &m) != nil {
				t.Errorf("cut at %d: %s", i, j)
			}
		}
	}
}
