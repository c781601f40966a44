package oci

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestCredentialsFor(t *testing.T) {
	cfg := func(json string) DockerConfig { return DockerConfig{Data: []byte(json)} }
	for _, tc := range []struct {
		name    string
		image   string
		configs []DockerConfig
		want    []string // user:password, in order
	}{
		{"host and port", "127.0.0.1:5000/myweb:v1", []DockerConfig{cfg(`{"auths":{"127.0.0.1:5000":{"username":"u","password":"p"}}}`)}, []string{"u:p"}},
		{"scheme and slash", "127.0.0.1:5000/myweb:v1", []DockerConfig{cfg(`{"auths":{"https://127.0.0.1:5000/":{"username":"u","password":"p"}}}`)}, []string{"u:p"}},
		{"auth field", "127.0.0.1:5000/myweb", []DockerConfig{cfg(`{"auths":{"127.0.0.1:5000":{"auth":"dTpwOnE="}}}`)}, []string{"u:p:q"}},
		{"other port", "127.0.0.1:5001/myweb", []DockerConfig{cfg(`{"auths":{"127.0.0.1:5000":{"username":"u","password":"p"}}}`)}, nil},
		{"no port", "127.0.0.1/myweb", []DockerConfig{cfg(`{"auths":{"127.0.0.1:5000":{"username":"u","password":"p"}}}`)}, nil},
		{"glob", "eu.registry.example.com/a/b", []DockerConfig{cfg(`{"auths":{"*.registry.example.com":{"username":"u","password":"p"}}}`)}, []string{"u:p"}},
		{"glob spans one label", "x.eu.registry.example.com/a", []DockerConfig{cfg(`{"auths":{"*.registry.example.com":{"username":"u","password":"p"}}}`)}, nil},
		{"path prefix, most specific first", "ghcr.io/acme/web:v1", []DockerConfig{
			cfg(`{"auths":{"ghcr.io":{"username":"any","password":"1"},"ghcr.io/other":{"username":"no","password":"2"}}}`),
			cfg(`{"auths":{"ghcr.io/acme":{"username":"acme","password":"3"}}}`),
		}, []string{"acme:3", "any:1"}},
		{"docker hub", "library/nginx", []DockerConfig{cfg(`{"auths":{"https://index.docker.io/v1/":{"username":"d","password":"h"}}}`)}, []string{"d:h"}},
		{"dockercfg", "127.0.0.1:5000/myweb", []DockerConfig{{Legacy: true, Data: []byte(`{"127.0.0.1:5000":{"username":"old","password":"cfg"}}`)}}, []string{"old:cfg"}},
		{"not JSON is skipped", "127.0.0.1:5000/myweb", []DockerConfig{cfg(`{`), cfg(`{"auths":{"127.0.0.1:5000":{"username":"u","password":"p"}}}`)}, []string{"u:p"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := CredentialsFor(tc.image, tc.configs)
			var got []string
			for _, l := range c.logins {
				got = append(got, l.Username+":"+l.Password)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || c.Empty() != (len(tc.want) == 0) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	a := CredentialsFor("127.0.0.1:5000/x", []DockerConfig{cfg(`{"auths":{"127.0.0.1:5000":{"username":"u","password":"p"}}}`)})
	b := CredentialsFor("127.0.0.1:5000/x", []DockerConfig{cfg(`{"auths":{"127.0.0.1:5000":{"username":"u","password":"q"}}}`)})
	if a.id == b.id || a.id == "" {
		t.Fatalf("two logins share the id %q", a.id)
	}
}

// TestPullAsLogsIn: a registry that wants a login refuses a pull without
// one (unauthorized, 401) and a pull with a wrong one, and serves a pull
// whose credentials hold the right login after a wrong one.
func TestPullAsLogsIn(t *testing.T) {
	reg := newRegistry(t)
	p := newPuller(t, 1<<20)
	ref := reg.host + "/private:v1"
	if _, err := p.Push(context.Background(), module, ref); err != nil {
		t.Fatal(err)
	}
	reg.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if u, pw, ok := r.BasicAuth(); ok && u == "puller" && pw == "s3cret" {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	})
	_, err := p.Pull(context.Background(), ref, PullAlways)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("without a login: %v", err)
	}
	wrong := CredentialsFor(ref, []DockerConfig{{Data: []byte(`{"auths":{"` + reg.host + `":{"username":"puller","password":"wrong"}}}`)}})
	if _, err := p.PullAs(context.Background(), ref, PullAlways, wrong); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("with a wrong login: %v", err)
	}
	both := CredentialsFor(ref, []DockerConfig{
		{Data: []byte(`{"auths":{"` + reg.host + `":{"auth":"cHVsbGVyOnMzY3JldA=="}}}`)},
		{Data: []byte(`{"auths":{"` + reg.host + `/private":{"username":"puller","password":"wrong"}}}`)},
	})
	got, err := p.PullAs(context.Background(), ref, PullAlways, both)
	if err != nil || string(got.Bytes) != string(module) {
		t.Fatalf("with the login: %v", err)
	}
}

// FuzzCredentialsFor: any image and docker config give logins or none,
// never a panic.
func FuzzCredentialsFor(f *testing.F) {
	f.Add("127.0.0.1:5000/myweb:v1", `{"auths":{"127.0.0.1:5000":{"auth":"dTpw"}}}`, false)
	f.Add("ghcr.io/acme/web@sha256:0000000000000000000000000000000000000000000000000000000000000000", `{"auths":{"*.io/acme":{"username":"u"}}}`, false)
	f.Add("library/nginx", `{"https://index.docker.io/v1/":{"auth":"!!"}}`, true)
	f.Add("[::1]:5000/x", `{"auths":{"[::1]:5000":{"username":"u","password":"p"},"[":{}}}`, false)
	f.Fuzz(func(t *testing.T, image, config string, legacy bool) {
		c := CredentialsFor(image, []DockerConfig{{Data: []byte(config), Legacy: legacy}})
		if c.Empty() != (c.ID() == "") {
			t.Fatalf("%d logins, id %q", len(c.logins), c.ID())
		}
	})
}
