package accounts

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestScalarsReadBack: every string comes back from YAML as itself,
// as a mapping's key, a value and an item of a flow list.
func TestScalarsReadBack(t *testing.T) {
	for _, s := range []string{
		"", "us", "/etc/dasha/acme.key", "https://x.example:8443/api", "TLS12", "Registered",
		"true", "False", "yes", "NO", "y", "n", "on", "Off", "null", "Null", "~", ".inf", "-.inf", ".NaN",
		"1", "0", "-1", "+1", "1e3", "0x1F", "0o17", "0b101", "1_000", "1:20", "12:30:45", "2001-12-14", "3.14",
		"10s", "1m30s", "500ms", "1.5µs", "-1s", "0s", "24h0m0s",
		"a: b", "a:", "a:b", ":a", "#x", "x #y", "x#y", "- x", "-x", "[a]", "{a}", "a,b", "a, b", "? x", "|", ">",
		"*alias", "&anchor", "!tag", "%x", "@x", "`x", "'x'", `"x"`, " lead", "trail ", "tab\there", "line\nbreak",
		"é", "日本", "\u2028", "\x00", "\x7f", "<hidden: no such file>", "+14155550100",
		"0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4aee", "a.b-c_d", "1e", "1d",
	} {
		text := "accounts:\n  " + plainOrQuoted(s) + ":\n    v: " + plainOrQuoted(s) + "\n    l: [" + plainOrQuoted(s) + ", x]\n"
		if strings.Contains(s, ":") {
			text = "accounts:\n  " + plainOrQuoted(s) + ":\n    v: " + plainOrQuoted(s) + "\n    l: [" + quoted(s) + ", x]\n"
		}
		var doc struct {
			Accounts map[string]struct {
				V string   `yaml:"v"`
				L []string `yaml:"l"`
			} `yaml:"accounts"`
		}
		if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
			t.Errorf("%q: %v\n%s", s, err, text)
			continue
		}
		got, ok := doc.Accounts[s]
		if !ok || got.V != s || len(got.L) != 2 || got.L[0] != s {
			t.Errorf("%q came back as %+v:\n%s", s, doc.Accounts, text)
		}
		// yaml.v3 decodes any scalar into a string; the decoder's own
		// str/integer checks use the tag, so the tag must be !!str.
		var n yaml.Node
		yaml.Unmarshal([]byte("v: "+plainOrQuoted(s)), &n)
		if tag := n.Content[0].Content[1].Tag; tag != "!!str" {
			t.Errorf("%q reads as %s", s, tag)
		}
	}
}

// TestEmitterAgreesWithYAMLv3: the emitter writes what yaml.v3 would
// write for the same views: the two texts decode to the same values.
func TestEmitterAgreesWithYAMLv3(t *testing.T) {
	odd := validSettings()
	odd.Name = "1e3"
	odd.Collector.States = []string{"yes", "a: b", "#", "Registered"}
	odd.Filters.PhoneNumber = "+14155550100"
	odd.Filters.UnlinkedOnly = true
	odd.CacheTTL = 1500 * time.Microsecond
	flags := validSettings()
	flags.Name, flags.KeyEnv = "default", "DASHA_API_KEY"
	for _, s := range []Settings{showAll(t), validSettings(), odd, flags} {
		v, comments := viewOf(&s, Provenance{}, "/wd")
		var e blockEmitter
		if err := e.mapping(reflect.ValueOf(v), 0, comments); err != nil {
			t.Fatal(err)
		}
		var ours, theirs map[string]any
		if err := yaml.Unmarshal(e.b.Bytes(), &ours); err != nil {
			t.Fatalf("%s: %v\n%s", s.Name, err, e.b.String())
		}
		ref, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(ref, &theirs); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ours, theirs) {
			t.Errorf("%s:\nours:\n%s\nyaml.v3:\n%s", s.Name, e.b.String(), ref)
		}
	}
}
