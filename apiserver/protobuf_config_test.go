package apiserver

import (
	"encoding/json"
	"reflect"
	"testing"
)

// kubectlConfigMap is the body of `kubectl create configmap web-config
// --from-literal=GREETING=Hi --from-file=logo.bin`, with immutable set, as
// its typed client sends it.
func kubectlConfigMap() []byte {
	obj := append(pbBytes(1, pbString(1, "web-config"), pbString(3, "team")),
		pbLabels(2, "GREETING", "Hi")...)
	obj = append(obj, pbBytes(3, pbString(1, "logo.bin"), pbBytes(2, []byte{0xff, 0x00}))...)
	obj = append(obj, pbVarint(4, 1)...)
	unknown := append(pbBytes(1, pbString(1, "v1"), pbString(2, "ConfigMap")), pbBytes(2, obj)...)
	return append([]byte("k8s\x00"), unknown...)
}

// kubectlSecret is the body of `kubectl create secret generic db
// --type=kubernetes.io/basic-auth --from-literal=username=admin`, with
// stringData and immutable false added.
func kubectlSecret() []byte {
	obj := append(pbBytes(1, pbString(1, "db")), pbBytes(2, pbString(1, "username"), pbBytes(2, []byte("admin")))...)
	obj = append(obj, pbString(3, "kubernetes.io/basic-auth")...)
	obj = append(obj, pbLabels(4, "password", "s3cret")...)
	obj = append(obj, pbVarint(5, 0)...)
	unknown := append(pbBytes(1, pbString(1, "v1"), pbString(2, "Secret")), pbBytes(2, obj)...)
	return append([]byte("k8s\x00"), unknown...)
}

func TestProtobufConfigMapAndSecret(t *testing.T) {
	for _, tc := range []struct {
		body []byte
		want string
	}{
		{kubectlConfigMap(), `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"web-config","namespace":"team"},
			"data":{"GREETING":"Hi"},"binaryData":{"logo.bin":"/wA="},"immutable":true}`},
		{kubectlSecret(), `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"data":{"username":"YWRtaW4="},
			"type":"kubernetes.io/basic-auth","stringData":{"password":"s3cret"},"immutable":false}`},
	} {
		j, err := protobufToJSON(tc.body)
		if err != nil {
			t.Fatal(err)
		}
		var got, want map[string]any
		if err := json.Unmarshal(j, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %s\nwant %s", j, tc.want)
		}
	}
}
