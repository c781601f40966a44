package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestKubectlComparisonConfigMapsAndSecrets: create configmap and create
// secret generic|docker-registry|tls, with every source and the errors
// of each, then get and describe of what they made, are the same with
// kubectl and wasmlet against one node.
func TestKubectlComparisonConfigMapsAndSecrets(t *testing.T) {
	c := &comparer{t: t, kubectl: kubectlPath(t), kubeconfig: e2eNode(t), home: t.TempDir(), dir: t.TempDir()}
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(c.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("index.html", "<h1>Hi</h1>\n")
	write("conf/a.properties", "a=1\n")
	write("conf/b.properties", "b=2\n")
	write("conf/sub/ignored", "x")
	write("app.env", "\ufeff# settings\n\nMODE=prod\n  LEVEL=debug=all\nUNSET_IN_BOTH_ENVIRONMENTS\n")
	write("bad.env", "GOOD=1\n1BAD=2\n")
	write("logo.bin", "\xff\xfe\x00\x01")
	write("one.txt", "only one line\n")
	write("esc.txt", "\x1b[31mred\x1b[0m\r\n")
	cert, key := selfSigned(t)
	write("tls.crt", cert)
	write("tls.key", key)

	for _, line := range []string{
		"create configmap {N}cfg --from-literal=GREETING=Hi --from-literal=EQ=a=b,c --from-file={DIR}/index.html",
		"create cm {N}dir --from-file={DIR}/conf",
		"create configmap {N}env --from-env-file={DIR}/app.env",
		"create configmap {N}keyed --from-file=page={DIR}/index.html --from-file={DIR}/logo.bin",
		"create configmap {N}one --from-file={DIR}/one.txt",
		"create configmap {N}esc --from-file={DIR}/esc.txt",
		"create configmap {N}dry --from-literal=a=1 --from-file={DIR}/logo.bin --dry-run=client -o yaml",
		"create configmap {N}dry --from-literal=a=1 --dry-run=client -o json",
		"create configmap {N}dry --from-literal=a=1 --dry-run=server",
		"create configmap {N}dry --from-literal=a=1 -o name -n default",
		"create configmap {N}cfg --from-literal=a=1",
		"create configmap {N}x --from-literal=a=1 --from-literal=a=2",
		"create configmap {N}x --from-literal=a=1 --from-file=a={DIR}/one.txt",
		"create configmap {N}x --from-file={DIR}/missing.txt",
		"create configmap {N}x --from-file=k={DIR}/conf",
		"create configmap {N}x --from-file==one.txt",
		"create configmap {N}x --from-env-file={DIR}/bad.env",
		"create configmap {N}x --from-env-file={DIR}/conf",
		"create configmap {N}x --from-env-file={DIR}/app.env --from-literal=a=b",
		"create configmap {N}x --from-literal=a/b=1",
		"create configmap {N}x --from-literal=novalue",
		"create configmap",
		"create configmap {N}x {N}y",
		"create secret generic {N}sec --from-literal=password=s3cret",
		"create secret generic {N}sec2 --from-literal=user=admin --from-file={DIR}/conf --from-file=logo={DIR}/logo.bin",
		"create secret generic {N}sec3 --type=kubernetes.io/tls --from-literal=a=b",
		"create secret generic {N}sec4 --type=kubernetes.io/basic-auth --from-literal=username=u --from-literal=password=p",
		"create secret generic {N}sec5 --from-env-file={DIR}/app.env --dry-run=client -o yaml",
		"create secret generic {N}x --from-literal=a=1 --from-literal=a=2",
		"create secret generic {N}x --from-literal=.=1",
		"create secret generic {N}x --from-file={DIR}/missing.txt",
		"create secret generic {N}sec --from-literal=a=1",
		"create secret docker-registry {N}reg --docker-server=127.0.0.1:5000 --docker-username=u --docker-password=p --docker-email=u@example.com",
		"create secret docker-registry {N}reg2 --docker-username=u --docker-password=p --dry-run=client -o yaml",
		"create secret docker-registry {N}x --docker-username=u",
		"create secret docker-registry {N}x --from-file={DIR}/one.txt",
		"create secret tls {N}x --cert={DIR}/one.txt",
		"create secret tls {N}tls --cert={DIR}/tls.crt --key={DIR}/tls.key",
		"create secret tls {N}x --cert={DIR}/tls.crt --key={DIR}/one.txt",
		"create secret bogus {N}x",
		"create configmap c --from-literal=a=1 --from-file={DIR}/logo.bin --append-hash --dry-run=client -o name",
		"create secret generic s --from-literal=a=1 --append-hash --dry-run=client -o name",
		"create configmap {N}saved --from-literal=a=1 --from-file={DIR}/logo.bin --save-config -o yaml",
		"create secret generic {N}saved --from-literal=a=1 --save-config --dry-run=client -o json",
		"create secret generic s --type=x.io/y --from-literal=a=1 --append-hash --dry-run=client -o name",
		"create secret tls {N}x --cert={DIR}/missing.pem --key={DIR}/one.txt",
	} {
		c.same(line, true)
	}
	for _, line := range []string{
		"get configmaps",
		"get cm k-cfg k-dir",
		"get secrets",
		"get secrets -o wide",
		"get cm,secrets",
		"get secret k-sec -o yaml",
		"get secret k-tls -o yaml",
		"get cm k-keyed -o json",
		"get secret k-sec2 -o jsonpath={.data.user}",
		"describe configmap k-one",
		"describe cm k-keyed",
		"describe cm k-esc",
		"describe secret k-sec",
		"describe secret k-reg",
		"get configmap nothere",
		"describe secret nothere",
	} {
		c.same(line, false)
	}
}

// selfSigned is a PEM certificate and its key, for create secret tls.
func selfSigned(t *testing.T) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "web.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
}

// TestKubectlComparisonConfigApply: apply of a Secret written with
// stringData, twice, and of an immutable ConfigMap changed, gives the
// same answers and stored data with kubectl and wasmlet.
func TestKubectlComparisonConfigApply(t *testing.T) {
	c := &comparer{t: t, kubectl: kubectlPath(t), kubeconfig: e2eNode(t), home: t.TempDir(), dir: t.TempDir()}
	c.twinFile("s1", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {N}app\nstringData:\n  password: one\n  user: admin\n")
	c.twinFile("s2", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {N}app\nstringData:\n  password: two\n")
	c.twinFile("c1", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {N}imm\nimmutable: true\ndata:\n  a: \"1\"\n")
	c.twinFile("c2", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {N}imm\nimmutable: true\ndata:\n  a: \"2\"\n")
	for _, line := range []string{
		"apply -f {DIR}/s1.{N}yaml",
		"get secret {N}app -o jsonpath={.data}",
		"apply -f {DIR}/s2.{N}yaml",
		"get secret {N}app -o jsonpath={.data}",
		"apply -f {DIR}/c1.{N}yaml",
		"apply -f {DIR}/c2.{N}yaml",
		"create -f {DIR}/c1.{N}yaml",
	} {
		c.same(line, true)
	}
}
