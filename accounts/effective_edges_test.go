package accounts

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A relative path in the settings (relative to the working directory, as
// the flags give them) is shown absolute; an account without a metrics
// selection shows no metrics: section.
func TestEffectiveYAMLMakesRelativePathsAbsolute(t *testing.T) {
	settings, err := Parse([]byte("accounts:\n  a:\n    platform: us\n    api_key_env: K\n    tls_config:\n      ca_file: certs/ca.pem\n      cert_file: /etc/ssl/client.pem\n      key_file: /etc/ssl/client.key\n"), "", testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	if settings[0].TLS.CAFile != "certs/ca.pem" {
		t.Fatalf("the parsed ca_file is %q, want it relative", settings[0].TLS.CAFile)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	out := effective(t, settings, Provenance{})
	for _, want := range []string{"ca_file: " + filepath.Join(wd, "certs/ca.pem"), "cert_file: /etc/ssl/client.pem"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "metrics:") {
		t.Errorf("a metrics: section for an account without a selection:\n%s", out)
	}
}

// A nested mapping whose fields are all left out is written {}, so that
// it reads back as an empty mapping, not as null.
func TestEmptyNestedMappingIsWrittenAsBraces(t *testing.T) {
	type inner struct {
		B string `yaml:"b,omitempty"`
	}
	var e blockEmitter
	err := e.mapping(reflect.ValueOf(struct {
		A inner  `yaml:"a"`
		C string `yaml:"c"`
	}{C: "x"}), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.b.String(); got != "a: {}\nc: x\n" {
		t.Errorf("%q", got)
	}
}

// A value of exactly the bound is shown whole in a message, a longer one cut.
func TestCutKeepsAValueOfExactlyTheBound(t *testing.T) {
	s := strings.Repeat("x", 64)
	if got := cut(s, 64); got != s {
		t.Errorf("cut of 64 bytes at 64 = %q", got)
	}
	if got := cut(s+"y", 64); got != s+"..." {
		t.Errorf("cut of 65 bytes at 64 = %q", got)
	}
}
