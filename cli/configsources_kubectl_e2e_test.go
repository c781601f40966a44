package cli

import "testing"

// configSourcesPod takes variables and volumes from a ConfigMap and a
// Secret, which need not exist for describe.
const configSourcesPod = `apiVersion: v1
kind: Pod
metadata:
  name: cfg
spec:
  volumes:
  - name: cfg
    configMap: {name: web-config}
  - name: creds
    secret: {secretName: creds, optional: true, items: [{key: password, path: db/password}]}
  containers:
  - name: app
    image: readconfig.wasm
    envFrom:
    - configMapRef: {name: web-config}
    - prefix: S_
      secretRef: {name: creds, optional: true}
    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef: {name: web-config, key: greeting}
    - name: PASSWORD
      valueFrom:
        secretKeyRef: {name: creds, key: password, optional: true}
    - name: PLAIN
      value: hello
    volumeMounts:
    - {name: cfg, mountPath: /config}
    - {name: creds, mountPath: /creds, readOnly: true}
`

// TestKubectlComparisonDescribeConfigSources: describe of a pod that
// takes variables and volumes from ConfigMaps and Secrets prints the same
// lines in kubectl and wasmlet (Environment Variables from, the keys'
// placeholders, the volumes' types), and the API accepts such a pod.
func TestKubectlComparisonDescribeConfigSources(t *testing.T) {
	c := &comparer{t: t, kubectl: kubectlPath(t), kubeconfig: e2eNode(t), home: t.TempDir(), dir: t.TempDir()}
	c.kubectlStdin(configSourcesPod, "apply", "-f", "-")
	c.same("describe pod cfg", false)
}
