package guest

import (
	"errors"
	"net"
	"reflect"
	"strconv"
	"testing"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseListenEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    []Socket
		wantErr bool
	}{
		{name: "unset", env: nil, want: nil},
		{name: "zero", env: map[string]string{"LISTEN_FDS": "0"}, want: []Socket{}},
		{name: "default start, no names", env: map[string]string{"LISTEN_FDS": "2"},
			want: []Socket{{3, "unknown"}, {4, "unknown"}}},
		{name: "after mounts, named", env: map[string]string{"LISTEN_FDS": "2", "LISTEN_FDS_START": "5", "LISTEN_FDNAMES": "http:grpc"},
			want: []Socket{{5, "http"}, {6, "grpc"}}},
		{name: "fewer names than fds", env: map[string]string{"LISTEN_FDS": "2", "LISTEN_FDNAMES": "http"},
			want: []Socket{{3, "http"}, {4, "unknown"}}},
		{name: "empty name", env: map[string]string{"LISTEN_FDS": "2", "LISTEN_FDNAMES": ":metrics"},
			want: []Socket{{3, "unknown"}, {4, "metrics"}}},
		{name: "spaces", env: map[string]string{"LISTEN_FDS": " 1 ", "LISTEN_FDS_START": " 4"},
			want: []Socket{{4, "unknown"}}},
		{name: "not a number", env: map[string]string{"LISTEN_FDS": "two"}, wantErr: true},
		{name: "negative", env: map[string]string{"LISTEN_FDS": "-1"}, wantErr: true},
		{name: "huge", env: map[string]string{"LISTEN_FDS": "99999999999"}, wantErr: true},
		{name: "bad start", env: map[string]string{"LISTEN_FDS": "1", "LISTEN_FDS_START": "x"}, wantErr: true},
		{name: "too many names", env: map[string]string{"LISTEN_FDS": "1", "LISTEN_FDNAMES": "a:b"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseListenEnv(envOf(tt.env))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzParseListenEnv(f *testing.F) {
	f.Add("2", "5", "http:grpc")
	f.Add("", "", "")
	f.Add("1", "x", "a:b")
	f.Add("-3", "3", ":::")
	f.Fuzz(func(t *testing.T, fds, start, names string) {
		env := map[string]string{"LISTEN_FDS": fds, "LISTEN_FDS_START": start, "LISTEN_FDNAMES": names}
		sockets, err := ParseListenEnv(envOf(env))
		if err != nil {
			return
		}
		for i, s := range sockets {
			if s.Name == "" {
				t.Fatalf("socket %d has no name", i)
			}
			if i > 0 && s.FD != sockets[i-1].FD+1 {
				t.Fatalf("fds not consecutive: %v", sockets)
			}
		}
	})
}

func TestPick(t *testing.T) {
	a, b := NamedListener{Name: "http"}, NamedListener{Name: "grpc"}
	a.Listener, b.Listener = &net.TCPListener{}, &net.TCPListener{}
	tests := []struct {
		name string
		list []NamedListener
		want net.Listener
		err  error
	}{
		{"by name", []NamedListener{a, b}, b.Listener, nil},
		{"only one", []NamedListener{a}, a.Listener, nil},
		{"none", nil, nil, ErrNoListener},
		{"ambiguous", []NamedListener{a, {Name: "x", Listener: &net.TCPListener{}}}, nil, ErrNoListener},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "grpc"
			if tt.name == "only one" || tt.name == "ambiguous" {
				name = "metrics"
			}
			got, err := pick(tt.list, name)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.want == nil {
				if got != nil {
					t.Errorf("got %v, want none", got)
				}
				return
			}
			nl, ok := got.(*NamedListener)
			if !ok || nl.Listener != tt.want {
				t.Errorf("got %#v, want the NamedListener of %p", got, tt.want)
			}
		})
	}
}

// TestOpenNative hands a real loopback listener over by fd, as systemd (or
// the node, on wasip1) does, and accepts a connection on the opened copy.
func TestOpenNative(t *testing.T) {
	tl, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	f, err := tl.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{"LISTEN_FDS": "1", "LISTEN_FDS_START": strconv.Itoa(int(f.Fd())), "LISTEN_FDNAMES": "http"}
	list, err := open(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "http" {
		t.Fatalf("got %+v", list)
	}
	defer list[0].Close()
	if got, want := list[0].Addr().String(), tl.Addr().String(); got != want {
		t.Errorf("addr = %s, want %s", got, want)
	}
	done := make(chan error, 1)
	go func() {
		c, err := list[0].Accept()
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	c, err := net.Dial("tcp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestOpenBadFD(t *testing.T) {
	_, err := open(envOf(map[string]string{"LISTEN_FDS": "1", "LISTEN_FDS_START": "1000000"}))
	if err == nil {
		t.Fatal("want an error for a descriptor that is not open")
	}
}
