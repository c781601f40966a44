package oci

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// Credentials are the logins a pull of one image may use, tried in
// order before the node's own (its Keychain), as the kubelet tries the
// credentials of a pod's imagePullSecrets that match the image before
// the node's. The zero value has none.
type Credentials struct {
	logins []authn.AuthConfig
	id     string
}

// ID tells credentials apart without showing them: a digest of their
// logins, "" for none.
func (c Credentials) ID() string { return c.id }

// Empty says whether c holds no login.
func (c Credentials) Empty() bool { return len(c.logins) == 0 }

// DockerConfig is the content of a kubernetes.io/dockerconfigjson
// secret's .dockerconfigjson ({"auths": {server: entry}}) or, with
// Legacy, of a kubernetes.io/dockercfg secret's .dockercfg ({server:
// entry}).
type DockerConfig struct {
	Data   []byte
	Legacy bool
}

type dockerConfigEntry struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

// CredentialsFor returns the logins of configs whose server matches
// image, as the kubelet's keyring matches them: the server's host (its
// labels may be globs, "*.example.com"), its port and its path as a
// prefix of the repository; the most specific server first, then the
// configs' order. A config that does not parse is skipped, as the
// kubelet skips it.
func CredentialsFor(image string, configs []DockerConfig) Credentials {
	ref, err := ParseReference(image)
	if err != nil {
		return Credentials{}
	}
	repo := ref.Context()
	type match struct {
		key   string
		login authn.AuthConfig
		order int
	}
	var found []match
	for i, cfg := range configs {
		var entries map[string]dockerConfigEntry
		if cfg.Legacy {
			if json.Unmarshal(cfg.Data, &entries) != nil {
				continue
			}
		} else {
			var doc struct {
				Auths map[string]dockerConfigEntry `json:"auths"`
			}
			if json.Unmarshal(cfg.Data, &doc) != nil {
				continue
			}
			entries = doc.Auths
		}
		for server, e := range entries {
			if !serverMatches(server, repo) {
				continue
			}
			login := authn.AuthConfig{Username: e.Username, Password: e.Password}
			if login.Username == "" && e.Auth != "" {
				if b, err := base64.StdEncoding.DecodeString(e.Auth); err == nil {
					login.Username, login.Password, _ = strings.Cut(string(b), ":")
				}
			}
			found = append(found, match{normalizeServer(server), login, i})
		}
	}
	// The kubelet's keyring looks servers up from the most specific (the
	// longest, in reverse lexical order) to the least.
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].key != found[j].key {
			return found[i].key > found[j].key
		}
		return found[i].order < found[j].order
	})
	var c Credentials
	h := sha256.New()
	for _, m := range found {
		c.logins = append(c.logins, m.login)
		b, _ := json.Marshal(m.login)
		h.Write(b)
		h.Write([]byte{0})
	}
	if len(c.logins) > 0 {
		c.id = hex.EncodeToString(h.Sum(nil))
	}
	return c
}

// normalizeServer is a config's server without its scheme and trailing
// slash; Docker Hub's names are index.docker.io.
func normalizeServer(s string) string {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://"), "/")
	host, path, _ := strings.Cut(s, "/")
	switch host {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		host = name.DefaultRegistry
		if path == "v1" || path == "v2" {
			path = ""
		}
	}
	if path == "" {
		return host
	}
	return host + "/" + path
}

// serverMatches says whether a config's server names repo's registry
// (host labels may be globs; ports must be equal) and a path that
// prefixes its repository.
func serverMatches(server string, repo name.Repository) bool {
	key := normalizeServer(server)
	host, path, _ := strings.Cut(key, "/")
	regHost := repo.RegistryStr()
	gHost, gPort := splitPort(host)
	tHost, tPort := splitPort(regHost)
	if gPort != tPort {
		return false
	}
	gLabels, tLabels := strings.Split(gHost, "."), strings.Split(tHost, ".")
	if len(gLabels) != len(tLabels) {
		return false
	}
	for i := range gLabels {
		if ok, err := filepath.Match(gLabels[i], tLabels[i]); err != nil || !ok {
			return false
		}
	}
	// A plain prefix, as the kubelet's keyring compares paths.
	return strings.HasPrefix(repo.RepositoryStr(), path)
}

func splitPort(host string) (string, string) {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[:i], host[i+1:]
	}
	return host, ""
}
