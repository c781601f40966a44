package cli

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli/printers"
	"github.com/wasmlet/wasmlet/client"
)

// `create configmap` and `create secret generic|docker-registry|tls`:
// kubectl's generators, with its flags, the order in which it reads its
// sources, and its messages.

// stringArray is a flag that may be given many times and whose values
// are never split at commas (kubectl's --from-literal=k=a,b is one value).
type stringArray []string

func (s *stringArray) Set(v string) error { *s = append(*s, v); return nil }
func (s *stringArray) String() string     { return strings.Join(*s, ",") }

// generatorFlags are the flags of create's generators (configmap, secret).
func generatorFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.GenericFlag{Name: "from-literal", Value: &stringArray{}, Usage: "configmap, secret generic: a key and a literal value (KEY=VALUE); may be repeated"},
		&ucli.StringSliceFlag{Name: "from-file", Usage: "configmap, secret: a file ([KEY=]PATH; the key defaults to the file's name), or a directory whose regular files each become a key"},
		&ucli.StringSliceFlag{Name: "from-env-file", Usage: "configmap, secret generic: a file of KEY=VALUE lines"},
		&ucli.StringFlag{Name: "type", Usage: "secret generic: the type of the secret"},
		&ucli.StringFlag{Name: "docker-server", Value: "https://index.docker.io/v1/", Usage: "secret docker-registry: the registry"},
		&ucli.StringFlag{Name: "docker-username", Usage: "secret docker-registry: the user name"},
		&ucli.StringFlag{Name: "docker-password", Usage: "secret docker-registry: the password"},
		&ucli.StringFlag{Name: "docker-email", Usage: "secret docker-registry: the email"},
		&ucli.StringFlag{Name: "cert", Usage: "secret tls: the PEM certificate file"},
		&ucli.StringFlag{Name: "key", Usage: "secret tls: the PEM private key file"},
		&ucli.BoolFlag{Name: "append-hash", Usage: "configmap, secret: append a hash of the object's content to its name"},
		&ucli.StringFlag{Name: "dry-run", Value: "none", Usage: "none, client (print the object, send nothing) or server (the node checks it, stores nothing)"},
		&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "yaml, json or name"},
	}
}

// createGenerated is `create configmap|cm NAME` and `create secret
// generic|docker-registry|tls NAME`; ok is false for any other kind.
func (e *environment) createGenerated(c *ucli.Context, args []string) (ok bool, err error) {
	var build func(c *ucli.Context, name string) (api.Object, error)
	var verb, what string
	switch {
	case args[0] == "configmap" || args[0] == "cm":
		build, verb, what, args = buildConfigMap, "configmap", "configmap: ", args[1:]
	case args[0] == "secret" && len(args) > 1 && args[1] == "generic":
		build, verb, what, args = buildGenericSecret, "secret generic", "secret ", args[2:]
	case args[0] == "secret" && len(args) > 1 && args[1] == "docker-registry":
		build, verb, what, args = buildDockerRegistrySecret, "secret docker-registry", "secret ", args[2:]
	case args[0] == "secret" && len(args) > 1 && args[1] == "tls":
		build, verb, what, args = buildTLSSecret, "secret tls", "secret ", args[2:]
	case args[0] == "secret" && len(args) > 1:
		return true, fmt.Errorf("unknown command %q\nSee 'wasmlet create secret -h' for help and examples", strings.Join(args[1:], " "))
	case args[0] == "secret":
		return true, errors.New("must specify one of docker-registry, generic or tls\nSee 'wasmlet create secret -h' for help and examples")
	default:
		return false, nil
	}
	if len(args) != 1 {
		return true, fmt.Errorf("exactly one NAME is required, got %d\nSee 'wasmlet create %s -h' for help and examples", len(args), verb)
	}
	out := c.String("output")
	switch out {
	case "", "yaml", "json", "name":
	default:
		return true, fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,yaml", out)
	}
	var dryRun string
	switch c.String("dry-run") {
	case "none", "":
	case "client":
		dryRun = " (dry run)"
	case "server":
		dryRun = " (server dry run)"
	default:
		return true, fmt.Errorf(`Invalid dry-run value (%s). Must be "none", "server", or "client".`, c.String("dry-run"))
	}
	obj, err := build(c, args[0])
	if err != nil {
		return true, err
	}
	if c.Bool("append-hash") {
		if err := appendHash(obj); err != nil {
			return true, err
		}
	}
	if c.Bool("save-config") {
		b, err := json.Marshal(obj)
		if err != nil {
			return true, err
		}
		obj.GetObjectMeta().Annotations = map[string]string{lastAppliedAnnotation: string(b) + "\n"}
	}
	res, _ := api.ResourceOf(obj)
	if c.String("dry-run") != "client" {
		v, err := fieldValidation(c)
		if err != nil {
			return true, err
		}
		cl, err := e.connect(c)
		if err != nil {
			return true, err
		}
		body, err := json.Marshal(obj)
		if err != nil {
			return true, err
		}
		obj, err = cl.CreateJSON(c.Context, res, namespace(c), body, client.WriteOptions{DryRun: dryRun != "", FieldValidation: v})
		if err != nil {
			// kubectl words the node's refusal as its own error.
			return true, fmt.Errorf("failed to create %s%s", what, err.Error())
		}
	}
	items := []printers.Item{{Resource: res, Object: obj}}
	switch out {
	case "yaml":
		return true, printers.PrintYAML(e.stdout, items, true)
	case "json":
		// kubectl prints the typed object it built or got back: fields
		// in the order of the type, not sorted.
		b, err := json.MarshalIndent(obj, "", "    ")
		if err != nil {
			return true, err
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n", b)
		return true, err
	case "name":
		return true, printers.PrintName(e.stdout, items)
	}
	fmt.Fprintf(e.stdout, "%s created%s\n", kindName(res, obj.GetObjectMeta().Name), dryRun)
	return true, nil
}

// generatedMeta is the metadata kubectl gives a generated object: the
// namespace only when -n names one.
func generatedMeta(c *ucli.Context, kind, name string) (api.TypeMeta, api.ObjectMeta) {
	return api.TypeMeta{Kind: kind, APIVersion: "v1"}, api.ObjectMeta{Name: name, Namespace: c.String("namespace")}
}

func buildConfigMap(c *ucli.Context, name string) (api.Object, error) {
	files, literals, envFiles := c.StringSlice("from-file"), literalSources(c), c.StringSlice("from-env-file")
	if len(envFiles) > 0 && (len(files) > 0 || len(literals) > 0) {
		return nil, errors.New("from-env-file cannot be combined with from-file or from-literal")
	}
	cm := &api.ConfigMap{Data: map[string]string{}, BinaryData: map[string][]byte{}}
	cm.TypeMeta, cm.ObjectMeta = generatedMeta(c, "ConfigMap", name)
	add := func(key string, value []byte) error {
		if errs := api.IsConfigMapKey(key); len(errs) > 0 {
			return fmt.Errorf("%q is not a valid key name for a ConfigMap: %s", key, strings.Join(errs, ","))
		}
		if _, ok := cm.Data[key]; ok {
			return fmt.Errorf("cannot add key %q, another key by that name already exists in Data for ConfigMap %q", key, name)
		}
		if _, ok := cm.BinaryData[key]; ok {
			return fmt.Errorf("cannot add key %q, another key by that name already exists in BinaryData for ConfigMap %q", key, name)
		}
		if utf8.Valid(value) {
			cm.Data[key] = string(value)
		} else {
			cm.BinaryData[key] = value
		}
		return nil
	}
	// kubectl reads files, then literals, then env files.
	if err := fromFiles(files, add); err != nil {
		return nil, err
	}
	if err := fromLiterals(literals, add); err != nil {
		return nil, err
	}
	if err := fromEnvFiles(envFiles, "env config file cannot be a directory", add); err != nil {
		return nil, err
	}
	return cm, nil
}

func newSecret(c *ucli.Context, name string, typ api.SecretType) *api.Secret {
	s := &api.Secret{Type: typ, Data: map[string][]byte{}}
	s.TypeMeta, s.ObjectMeta = generatedMeta(c, "Secret", name)
	return s
}

// addToSecret is kubectl's check of a secret's new key.
func addToSecret(s *api.Secret) func(key string, value []byte) error {
	return func(key string, value []byte) error {
		if errs := api.IsConfigMapKey(key); len(errs) > 0 {
			return fmt.Errorf("%q is not valid key name for a Secret %s", key, strings.Join(errs, ";"))
		}
		if _, ok := s.Data[key]; ok {
			return fmt.Errorf("cannot add key %s, another key by that name already exists", key)
		}
		s.Data[key] = value
		return nil
	}
}

func buildGenericSecret(c *ucli.Context, name string) (api.Object, error) {
	files, literals, envFiles := c.StringSlice("from-file"), literalSources(c), c.StringSlice("from-env-file")
	if len(envFiles) > 0 && (len(files) > 0 || len(literals) > 0) {
		return nil, errors.New("from-env-file cannot be combined with from-file or from-literal")
	}
	s := newSecret(c, name, api.SecretType(c.String("type")))
	add := addToSecret(s)
	// kubectl reads literals, then files, then env files.
	if err := fromLiterals(literals, add); err != nil {
		return nil, err
	}
	if err := fromFiles(files, add); err != nil {
		return nil, err
	}
	if err := fromEnvFiles(envFiles, "env secret file cannot be a directory", add); err != nil {
		return nil, err
	}
	return s, nil
}

// dockerConfigJSON is the content of a kubernetes.io/dockerconfigjson
// secret's .dockerconfigjson, as kubectl writes it.
type dockerConfigJSON struct {
	Auths map[string]dockerConfigEntry `json:"auths"`
}

type dockerConfigEntry struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Email    string `json:"email,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

func buildDockerRegistrySecret(c *ucli.Context, name string) (api.Object, error) {
	files := c.StringSlice("from-file")
	user, password, server := c.String("docker-username"), c.String("docker-password"), c.String("docker-server")
	if len(files) == 0 && (user == "" || password == "" || server == "") {
		return nil, errors.New("either --from-file or the combination of --docker-username, --docker-password and --docker-server is required")
	}
	s := newSecret(c, name, api.SecretTypeDockerConfigJSON)
	if len(files) > 0 {
		for i, f := range files {
			if !strings.Contains(f, "=") {
				files[i] = api.DockerConfigJSONKey + "=" + f
			}
		}
		return s, fromFiles(files, addToSecret(s))
	}
	b, err := json.Marshal(dockerConfigJSON{Auths: map[string]dockerConfigEntry{server: {
		Username: user, Password: password, Email: c.String("docker-email"),
		Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + password)),
	}}})
	if err != nil {
		return nil, err
	}
	s.Data[api.DockerConfigJSONKey] = b
	return s, nil
}

func buildTLSSecret(c *ucli.Context, name string) (api.Object, error) {
	certFile, keyFile := c.String("cert"), c.String("key")
	if certFile == "" || keyFile == "" {
		return nil, errors.New("key and cert must be specified")
	}
	read := func(file string) ([]byte, error) {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("Cannot read file %v, %v", file, err)
		}
		return b, nil
	}
	cert, err := read(certFile)
	if err != nil {
		return nil, err
	}
	key, err := read(keyFile)
	if err != nil {
		return nil, err
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		return nil, err
	}
	s := newSecret(c, name, api.SecretTypeTLS)
	s.Data[api.TLSCertKey], s.Data[api.TLSPrivateKeyKey] = cert, key
	return s, nil
}

func literalSources(c *ucli.Context) []string {
	if v, ok := c.Generic("from-literal").(*stringArray); ok {
		return *v
	}
	return nil
}

// fromLiterals adds KEY=VALUE sources; the value may hold '='.
func fromLiterals(sources []string, add func(string, []byte) error) error {
	for _, src := range sources {
		k, v, ok := strings.Cut(src, "=")
		if !ok || k == "" {
			return fmt.Errorf("invalid literal source %v, expected key=value", src)
		}
		if err := add(k, []byte(v)); err != nil {
			return err
		}
	}
	return nil
}

// fromFiles adds [KEY=]PATH sources: a file under its key (its base name
// by default), a directory's regular files under their names.
func fromFiles(sources []string, add func(string, []byte) error) error {
	for _, src := range sources {
		key, file, err := parseFileSource(src)
		if err != nil {
			return err
		}
		fi, err := os.Stat(file)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("error reading %s: %v", file, err)
		}
		if !fi.IsDir() {
			b, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			if err := add(key, b); err != nil {
				return err
			}
			continue
		}
		if strings.Contains(src, "=") {
			return errors.New("cannot give a key name for a directory path")
		}
		entries, err := os.ReadDir(file)
		if err != nil {
			return fmt.Errorf("error listing files in %s: %v", file, err)
		}
		for _, ent := range entries {
			if !ent.Type().IsRegular() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(file, ent.Name()))
			if err != nil {
				return err
			}
			if err := add(ent.Name(), b); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseFileSource splits [KEY=]PATH as kubectl does: neither may hold '='.
func parseFileSource(src string) (key, file string, err error) {
	switch n := strings.Count(src, "="); {
	case n == 0:
		return path.Base(filepath.ToSlash(src)), src, nil
	case n == 1 && strings.HasPrefix(src, "="):
		return "", "", fmt.Errorf("key name for file path %v missing", strings.TrimPrefix(src, "="))
	case n == 1 && strings.HasSuffix(src, "="):
		return "", "", fmt.Errorf("file path for key name %v missing", strings.TrimSuffix(src, "="))
	case n > 1:
		return "", "", errors.New("key names or file paths cannot contain '='")
	}
	key, file, _ = strings.Cut(src, "=")
	return key, file, nil
}

var (
	envVarNameRe = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
	utf8BOM      = []byte{0xEF, 0xBB, 0xBF}
)

// fromEnvFiles adds the KEY=VALUE lines of env files: blank lines and
// comments are skipped, a key without '=' takes its value from the
// environment of the command, as kubectl does.
func fromEnvFiles(files []string, dirErr string, add func(string, []byte) error) error {
	for _, file := range files {
		fi, err := os.Stat(file)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("error reading %s: %v", file, err)
		}
		if fi.IsDir() {
			return errors.New(dirErr)
		}
		if err := readEnvFile(file, add); err != nil {
			return err
		}
	}
	return nil
}

func readEnvFile(file string, add func(string, []byte) error) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 0; sc.Scan(); n++ {
		line := sc.Bytes()
		if !utf8.Valid(line) {
			return fmt.Errorf("env file %s contains invalid utf8 bytes at line %d: %v", file, n+1, line)
		}
		if n == 0 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		line = bytes.TrimLeftFunc(line, unicode.IsSpace)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, value, hasValue := strings.Cut(string(line), "=")
		if !envVarNameRe.MatchString(key) {
			return fmt.Errorf("%q is not a valid key name: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')", key)
		}
		if !hasValue {
			value = os.Getenv(key)
		}
		if err := add(key, []byte(value)); err != nil {
			return err
		}
	}
	return sc.Err()
}

// appendHash appends to a generated object's name kubectl's hash of its
// content: the first ten hex digits of the SHA-256 of a JSON of its kind,
// name, data (binaryData too when a ConfigMap has some; type for a
// Secret) and immutable when set, with 0, 1, 3, a and e made g, h, k, m
// and t, so that the suffix has no vowel and is never all digits.
func appendHash(obj api.Object) error {
	var m map[string]any
	switch o := obj.(type) {
	case *api.ConfigMap:
		m = map[string]any{"kind": "ConfigMap", "name": o.Name, "data": o.Data}
		if len(o.BinaryData) > 0 {
			m["binaryData"] = o.BinaryData
		}
		if o.Immutable != nil {
			m["immutable"] = *o.Immutable
		}
	case *api.Secret:
		m = map[string]any{"kind": "Secret", "type": o.Type, "name": o.Name, "data": o.Data}
		if o.Immutable != nil {
			m["immutable"] = *o.Immutable
		}
	default:
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	suffix := strings.NewReplacer("0", "g", "1", "h", "3", "k", "a", "m", "e", "t").Replace(hex.EncodeToString(sum[:])[:10])
	meta := obj.GetObjectMeta()
	meta.Name += "-" + suffix
	return nil
}
