package apiserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// credentials are what a node's API is reached with: a CA, the server's
// certificate signed by it, and the bearer token clients present.
type credentials struct {
	caPEM  []byte
	cert   tls.Certificate
	token  string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

// Files of the data dir's tls/ directory and the token.
const (
	tlsDirName    = "tls"
	caCertFile    = "ca.crt"
	caKeyFile     = "ca.key"
	serverCrtFile = "server.crt"
	serverKeyFile = "server.key"
	tokenFile     = "token"
	// KubeconfigFile is the kubeconfig the server writes in its data dir.
	KubeconfigFile = "kubeconfig.yaml"
)

// loadCredentials reads the CA, certificate and token from dataDir,
// creating whatever is missing; with dataDir "" they live in memory only.
// The server certificate is re-issued when it lacks a name of hosts or
// expires within 30 days.
func loadCredentials(dataDir string, hosts []string) (*credentials, error) {
	c := &credentials{}
	dir := ""
	if dataDir != "" {
		dir = filepath.Join(dataDir, tlsDirName)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	if err := c.loadCA(dir); err != nil {
		return nil, err
	}
	if err := c.loadServerCert(dir, hosts); err != nil {
		return nil, err
	}
	if err := c.loadToken(dataDir); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *credentials) loadCA(dir string) error {
	if dir != "" {
		certPEM, err1 := os.ReadFile(filepath.Join(dir, caCertFile))
		keyPEM, err2 := os.ReadFile(filepath.Join(dir, caKeyFile))
		if err1 == nil && err2 == nil {
			cert, key, err := parsePair(certPEM, keyPEM)
			if err != nil {
				return fmt.Errorf("the CA in %s: %w", dir, err)
			}
			c.caPEM, c.caCert, c.caKey = certPEM, cert, key
			return nil
		}
		if !errors.Is(err1, fs.ErrNotExist) && err1 != nil {
			return err1
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "wasmlet-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	c.caCert, c.caKey = cert, key
	c.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if dir == "" {
		return nil
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, caKeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, caCertFile), c.caPEM, 0o644)
}

func (c *credentials) loadServerCert(dir string, hosts []string) error {
	if dir != "" {
		certPEM, err1 := os.ReadFile(filepath.Join(dir, serverCrtFile))
		keyPEM, err2 := os.ReadFile(filepath.Join(dir, serverKeyFile))
		if err1 == nil && err2 == nil {
			cert, _, err := parsePair(certPEM, keyPEM)
			if err == nil && covers(cert, hosts) && time.Until(cert.NotAfter) > 30*24*time.Hour &&
				cert.CheckSignatureFrom(c.caCert) == nil {
				pair, err := tls.X509KeyPair(certPEM, keyPEM)
				if err == nil {
					c.cert = pair
					return nil
				}
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "wasmlet"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range sanHosts(hosts) {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.caCert, &key.PublicKey, c.caKey)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	if c.cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return err
	}
	if dir == "" {
		return nil
	}
	if err := writeFileAtomic(filepath.Join(dir, serverKeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, serverCrtFile), certPEM, 0o644)
}

// sanHosts is 127.0.0.1 and localhost, and the hosts the server listens on.
func sanHosts(hosts []string) []string {
	out := []string{"127.0.0.1", "localhost"}
	for _, h := range hosts {
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

func covers(cert *x509.Certificate, hosts []string) bool {
	for _, h := range sanHosts(hosts) {
		if cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func (c *credentials) loadToken(dataDir string) error {
	path := ""
	if dataDir != "" {
		path = filepath.Join(dataDir, tokenFile)
		if b, err := os.ReadFile(path); err == nil {
			if t := strings.TrimSpace(string(b)); t != "" {
				c.token = t
				return nil
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	c.token = base64.RawURLEncoding.EncodeToString(b[:])
	if path == "" {
		return nil
	}
	return writeFileAtomic(path, []byte(c.token+"\n"), 0o600)
}

func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return nil, nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, errors.New("no PEM key")
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// writeFileAtomic writes a file whole or not at all: a node killed while
// writing its credentials must not find half a key at the next start.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Kubeconfig returns a kubeconfig that reaches server ("https://host:port")
// with the CA caPEM and the bearer token, in the cluster, user and context
// named "wasmlet", namespace default.
func Kubeconfig(server string, caPEM []byte, token string) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\n")
	b.WriteString("clusters:\n- name: wasmlet\n  cluster:\n")
	fmt.Fprintf(&b, "    server: %s\n", server)
	fmt.Fprintf(&b, "    certificate-authority-data: %s\n", base64.StdEncoding.EncodeToString(caPEM))
	b.WriteString("contexts:\n- name: wasmlet\n  context:\n    cluster: wasmlet\n    user: wasmlet\n    namespace: default\n")
	b.WriteString("current-context: wasmlet\n")
	b.WriteString("users:\n- name: wasmlet\n  user:\n")
	fmt.Fprintf(&b, "    token: %s\n", token)
	b.WriteString("preferences: {}\n")
	return []byte(b.String())
}

// WriteKubeconfig writes Kubeconfig(server, caPEM, token) to path, readable
// by its owner only (it holds the token).
func WriteKubeconfig(path, server string, caPEM []byte, token string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(path, Kubeconfig(server, caPEM, token), 0o600)
}
