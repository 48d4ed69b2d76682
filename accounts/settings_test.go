package accounts

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/collector"
)

func validSettings() Settings {
	return Settings{
		Name: "a", URL: "https://x.example", KeyEnv: "K", PageSize: 1000, Concurrency: 4,
		Timeout: 10 * time.Second, TimeoutOffset: time.Second,
		Collector: collector.Options{States: []string{"Registered", "Failed"}, HealthyStates: []string{"Registered"}},
	}
}

// leaves calls f with every settable leaf of v (strings, numbers, bools,
// slices, maps, pointers), reached through nested structs, and its path.
func leaves(v reflect.Value, path string, f func(reflect.Value, string)) {
	if v.Kind() != reflect.Struct {
		f(v, path)
		return
	}
	for i := range v.NumField() {
		if v.Type().Field(i).IsExported() {
			leaves(v.Field(i), path+"."+v.Type().Field(i).Name, f)
		}
	}
}

// change sets v to a value different from the one it has.
func change(t *testing.T, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Slice:
		v.Set(reflect.Append(reflect.MakeSlice(v.Type(), 0, v.Len()+1), append(sliceOf(v), reflect.Zero(v.Type().Elem()))...))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.Zero(v.Type().Key()), reflect.Zero(v.Type().Elem()))
		v.Set(m)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
	default:
		t.Fatalf("%s: a field of kind %s: teach change about it", path, v.Kind())
	}
}

func sliceOf(v reflect.Value) []reflect.Value {
	out := make([]reflect.Value, v.Len())
	for i := range out {
		out[i] = v.Index(i)
	}
	return out
}

// TestEqualComparesEveryField changes each field of Settings in turn, down
// to the fields of nested structs, and expects Equal to see it: a field
// added to Settings can never be missed by a reload. Only Origin (where
// the account was written) is not compared.
func TestEqualComparesEveryField(t *testing.T) {
	base := validSettings()
	n := 0
	leaves(reflect.ValueOf(&base).Elem(), "Settings", func(_ reflect.Value, path string) {
		n++
		s := validSettings()
		var target reflect.Value
		leaves(reflect.ValueOf(&s).Elem(), "Settings", func(v reflect.Value, p string) {
			if p == path {
				target = v
			}
		})
		change(t, target, path)
		origin := strings.HasPrefix(path, "Settings.Origin.")
		if got := base.Equal(&s); got != origin {
			t.Errorf("changing %s: Equal = %v, want %v", path, got, origin)
		}
	})
	if n < 20 {
		t.Errorf("only %d fields were changed: the walk is broken", n)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	many := make([]string, collector.MaxStates+1)
	for i := range many {
		many[i] = "S" + strings.Repeat("x", i)
	}
	for _, tc := range []struct {
		name   string
		change func(*Settings)
		field  string
		msg    string
	}{
		{"bad name", func(s *Settings) { s.Name = "-a" }, "name", "is not valid"},
		{"port 0", func(s *Settings) { s.URL = "http://127.0.0.1:0" }, "url", "port 0 is out of range 1..65535"},
		{"port 65536", func(s *Settings) { s.URL = "http://127.0.0.1:65536" }, "url", "port 65536 is out of range 1..65535"},
		{"port not a number", func(s *Settings) { s.URL = "http://127.0.0.1:http" }, "url", "has a port that is not a number"},
		{"empty port", func(s *Settings) { s.URL = "http://127.0.0.1:" }, "url", "has an empty port"},
		{"proxy port 0", func(s *Settings) { s.ProxyURL = "http://proxy:0" }, "proxy_url", "port 0"},
		{"no url", func(s *Settings) { s.URL = "" }, "url", "is empty"},
		{"platform and other url", func(s *Settings) { s.Platform = "us" }, "platform", "are both set"},
		{"unknown platform", func(s *Settings) { s.URL, s.Platform = "", "eu" }, "platform", "is not a platform"},
		{"page size", func(s *Settings) { s.PageSize = 0 }, "page_size", "0 is out of range 1..1000"},
		{"concurrency", func(s *Settings) { s.Concurrency = client.MaxConcurrency + 1 }, "concurrency", "65 is out of range 1..64"},
		{"cache ttl", func(s *Settings) { s.CacheTTL = -time.Second }, "cache_ttl", "-1s must not be negative"},
		{"timeout", func(s *Settings) { s.Timeout = 0 }, "timeout", "0s is out of range"},
		{"timeout offset", func(s *Settings) { s.TimeoutOffset = -time.Second }, "timeout_offset", "-1s must not be negative"},
		{"provider", func(s *Settings) { s.Filters.ProviderID = "acme" }, "provider_id", `"acme" is not a uuid`},
		{"unlinked and linked", func(s *Settings) { s.Filters.UnlinkedOnly, s.Filters.LinkedAgentID = true, "x" }, "unlinked_only", "contradict each other"},
		{"both key sources", func(s *Settings) { s.KeyFile = "/k" }, "api_key_file", "are both set"},
		{"key in api_key_env", func(s *Settings) { s.KeyEnv = "sk_live_5hT9xQ2mV8+" }, "api_key_env", "not the name of an environment variable"},
		{"too many states", func(s *Settings) { s.Collector.States = many }, "registration.states", "lists 65 states; at most 64"},
		{"too many healthy states", func(s *Settings) { s.Collector.States, s.Collector.HealthyStates = many[:64], many }, "registration.healthy_states", "lists 65 states; at most 64"},
		{"healthy not a state", func(s *Settings) { s.Collector.HealthyStates = []string{"registered"} }, "registration.healthy_states", `"registered" is not one of the states`},
		{"proxy", func(s *Settings) { s.ProxyURL = "proxy:3128" }, "proxy_url", "is not an absolute"},
		{"tls", func(s *Settings) { s.TLS.CertFile = "c.pem" }, "tls_config", "key_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validSettings()
			tc.change(&s)
			err := s.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a *FieldError", err)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Error(), tc.msg) {
				t.Errorf("Validate = %q (field %q), want field %q and %q", fe, fe.Field, tc.field, tc.msg)
			}
			if strings.Contains(fe.Error(), "--") {
				t.Errorf("a flag name below main: %q", fe)
			}
			if strings.Contains(fe.Error(), "sk_live") {
				t.Errorf("repeats a value that could be a key: %q", fe)
			}
		})
	}
}

func TestValidateNormalises(t *testing.T) {
	s := validSettings()
	s.URL = "https://x.example:8443/base/"
	if err := s.Validate(); err != nil || s.URL != "https://x.example:8443/base" {
		t.Errorf("Validate = %v, URL %q", err, s.URL)
	}
	s = validSettings()
	s.URL, s.Platform = "", "ru"
	if err := s.Validate(); err != nil || s.URL != Platforms["ru"] {
		t.Errorf("Validate = %v, URL %q", err, s.URL)
	}
	again := s
	if err := again.Validate(); err != nil || !again.Equal(&s) {
		t.Errorf("Validate is not idempotent: %v", err)
	}
	for _, port := range []string{"1", "65535"} {
		s := validSettings()
		s.URL = "http://127.0.0.1:" + port
		if err := s.Validate(); err != nil {
			t.Errorf("port %s: %v", port, err)
		}
	}
	s = validSettings()
	s.Collector.States = slices.Repeat([]string{"x"}, 1)
	s.Collector.HealthyStates = []string{"x"}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
}

func TestKeySourceNameFollowsTheNamingRule(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "acme.key")
	if err := os.WriteFile(file, []byte("k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	origin := Origin{Line: 2, Lines: map[string]int{"api_key_file": 4, "api_key_env": 4}}
	for _, tc := range []struct {
		s    Settings
		want string
	}{
		{Settings{Name: "x", KeyEnv: "ACME_KEY", Origin: origin}, "api_key_env ACME_KEY"},
		{Settings{Name: "x", KeyEnv: strings.Repeat("A", 31), Origin: origin}, "api_key_env " + strings.Repeat("A", 31)},
		{Settings{Name: "x", KeyEnv: "sk_live_0123456789abcdef0123456789", Origin: origin}, `api_key_env of account "x" (line 4)`},
		{Settings{Name: "x", KeyEnv: "sk-live", Origin: origin}, `api_key_env of account "x" (line 4)`},
		{Settings{Name: "x", KeyFile: file, Origin: origin}, "api_key_file " + file},
		{Settings{Name: "x", KeyFile: "/etc/Zm9vYmFy/YmF6cXV4+c2VjcmV0a2V5MTIzNDU2Nzg5MA==", Origin: origin}, `api_key_file of account "x" (line 4)`},
		{Settings{Name: "x", KeyFile: dir, Origin: origin}, `api_key_file of account "x" (line 4)`},
		{Settings{Name: "default", KeyFile: "sk_live_5hT9xQ2mV8"}, `api_key_file of account "default"`},
	} {
		if got := tc.s.KeySourceName(); got != tc.want {
			t.Errorf("KeySourceName of %q/%q = %q, want %q", tc.s.KeyEnv, tc.s.KeyFile, got, tc.want)
		}
	}
}
