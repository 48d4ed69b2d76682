package compat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const chartDir = "deploy/helm/dasha-exporter"

// valuesFiles are the chart's test values: "" is its defaults.
func valuesFiles(t *testing.T) []string {
	files := glob(t, filepath.Join(root, chartDir, "ci", "*-values.yaml"))
	return append([]string{""}, rel(t, files)...)
}

func TestHelmLint(t *testing.T) {
	helm := tool(t, "HELM", "helm")
	for _, vf := range valuesFiles(t) {
		args := []string{"lint", "--strict", chartDir}
		if vf != "" {
			args = append(args, "-f", vf)
		}
		out := run(t, root, helm, args...)
		if !strings.Contains(out, "0 chart(s) failed") {
			t.Errorf("helm %s:\n%s", strings.Join(args, " "), out)
		}
	}
}

// manifest is one rendered object, with the text helm printed for it.
type manifest struct {
	obj  map[string]any
	text string
}

func (m manifest) kind() string { return str(m.obj, "kind") }

// render runs helm template with the values file vf ("" for defaults) and
// returns the objects by kind.
func render(t *testing.T, vf string, set ...string) map[string][]manifest {
	t.Helper()
	helm := tool(t, "HELM", "helm")
	args := []string{"template", "dasha", chartDir, "--namespace", "monitoring"}
	if vf != "" {
		args = append(args, "-f", vf)
	}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out := run(t, root, helm, args...)
	byKind := map[string][]manifest{}
	for _, doc := range strings.Split(out, "\n---\n") {
		// The separator took the newline that ends the document's last line.
		doc = strings.TrimPrefix(doc, "---\n")
		if !strings.HasSuffix(doc, "\n") {
			doc += "\n"
		}
		var obj map[string]any
		dec := yaml.NewDecoder(strings.NewReader(doc))
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				continue
			}
			t.Fatalf("helm %s: a document does not parse: %v\n%s", strings.Join(args, " "), err, doc)
		}
		if obj == nil {
			continue
		}
		m := manifest{obj, doc}
		byKind[m.kind()] = append(byKind[m.kind()], m)
	}
	return byKind
}

// get walks maps and lists: get(obj, "spec", "template", "spec", "containers", 0).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := get(v, path...).(string)
	return s
}

func list(v any, path ...any) []any {
	l, _ := get(v, path...).([]any)
	return l
}

func one(t *testing.T, objs map[string][]manifest, kind string) manifest {
	t.Helper()
	if len(objs[kind]) != 1 {
		t.Fatalf("%d %s objects rendered, want 1", len(objs[kind]), kind)
	}
	return objs[kind][0]
}

func args(container any) []string {
	var out []string
	for _, a := range list(container, "args") {
		out = append(out, fmt.Sprint(a))
	}
	return out
}

// TestHelmTemplateDeployment checks the pod every values file renders: non
// root, read-only, no privilege escalation, resources, probes on the health
// endpoints (or tcp), a grace period past the drain, and the key as a file.
func TestHelmTemplateDeployment(t *testing.T) {
	for _, vf := range valuesFiles(t) {
		t.Run("values="+vf, func(t *testing.T) {
			objs := render(t, vf)
			dep := one(t, objs, "Deployment").obj
			pod := get(dep, "spec", "template", "spec")
			c := get(pod, "containers", 0)
			if get(pod, "securityContext", "runAsNonRoot") != true || get(c, "securityContext", "readOnlyRootFilesystem") != true ||
				get(c, "securityContext", "allowPrivilegeEscalation") != false || str(c, "securityContext", "capabilities", "drop", 0) != "ALL" {
				t.Errorf("insecure pod: %v / %v", get(pod, "securityContext"), get(c, "securityContext"))
			}
			if get(pod, "automountServiceAccountToken") != false {
				t.Error("the service account token is mounted")
			}
			if get(c, "resources", "requests") == nil || get(c, "resources", "limits", "memory") == nil {
				t.Errorf("resources: %v", get(c, "resources"))
			}
			if g, _ := get(pod, "terminationGracePeriodSeconds").(int); g <= 130 {
				t.Errorf("terminationGracePeriodSeconds %v does not outlast the 130s drain", get(pod, "terminationGracePeriodSeconds"))
			}
			if strings.Contains(vf, "tcp") {
				if get(c, "livenessProbe", "tcpSocket") == nil || get(c, "readinessProbe", "tcpSocket") == nil {
					t.Errorf("want tcpSocket probes: %v %v", get(c, "livenessProbe"), get(c, "readinessProbe"))
				}
			} else if str(c, "livenessProbe", "httpGet", "path") != "/-/healthy" || str(c, "readinessProbe", "httpGet", "path") != "/-/ready" {
				t.Errorf("probes: %v %v", get(c, "livenessProbe"), get(c, "readinessProbe"))
			}
			a := strings.Join(args(c), " ")
			for _, e := range list(c, "env") {
				if strings.Contains(str(e, "name"), "API_KEY") {
					t.Errorf("the key travels in the environment: %v", e)
				}
			}
			switch {
			case vf == "":
				if !strings.Contains(a, "--dasha.api-key-file=/etc/dasha_exporter/api-key/api-key") ||
					str(pod, "volumes", 0, "secret", "secretName") != "dasha-exporter-api-key" {
					t.Errorf("default: the key should come from Secret dasha-exporter-api-key as a file: args %s volumes %v", a, get(pod, "volumes"))
				}
				for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "ConfigMap"} {
					if len(objs[kind]) != 0 {
						t.Errorf("default values render a %s", kind)
					}
				}
			case strings.Contains(vf, "basic-auth"):
				if str(c, "livenessProbe", "httpGet", "scheme") != "HTTPS" || str(c, "readinessProbe", "httpGet", "httpHeaders", 0, "name") != "Authorization" {
					t.Errorf("basic auth: probes %v", get(c, "readinessProbe"))
				}
				if !strings.Contains(a, "--web.config.file=/etc/dasha_exporter/web/web-config.yml") {
					t.Errorf("basic auth: args %s", a)
				}
			case strings.Contains(vf, "demo"):
				if !strings.Contains(a, "--demo") || strings.Contains(a, "api-key") || len(list(pod, "volumes")) != 0 {
					t.Errorf("demo: args %s volumes %v", a, get(pod, "volumes"))
				}
			}
		})
	}
}

// TestHelmTemplateAccounts renders the accounts of the contract's config
// file format and one probe endpoint per account.
func TestHelmTemplateAccounts(t *testing.T) {
	objs := render(t, filepath.Join(chartDir, "ci", "accounts-values.yaml"))
	cm := one(t, objs, "ConfigMap").obj
	var cfg struct {
		Accounts map[string]map[string]any `yaml:"accounts"`
	}
	if err := yaml.Unmarshal([]byte(str(cm, "data", "config.yml")), &cfg); err != nil {
		t.Fatalf("config.yml: %v", err)
	}
	want := map[string]map[string]any{
		"acme-us": {"platform": "us", "api_key_file": "/etc/dasha_exporter/keys/acme-us/api-key"},
		"acme-ru": {"platform": "ru", "api_key_file": "/etc/dasha_exporter/keys/acme-ru/api-key", "provider_id": "0b6f3b5e-1111-2222-3333-444455556666"},
		"lab": {"url": "https://dasha-proxy.internal:8443", "api_key_file": "/etc/dasha_exporter/keys/lab/key", "page_size": 500,
			"registration": map[string]any{"healthy_states": []any{"Registered"}}},
	}
	if fmt.Sprint(cfg.Accounts) != fmt.Sprint(want) {
		t.Errorf("config.yml accounts:\n got %v\nwant %v", cfg.Accounts, want)
	}

	dep := one(t, objs, "Deployment").obj
	pod := get(dep, "spec", "template", "spec")
	c := get(pod, "containers", 0)
	if a := args(c); !slices.Contains(a, "--config.file=/etc/dasha_exporter/config/config.yml") || strings.Contains(strings.Join(a, " "), "api-key-file") {
		t.Errorf("args %v", a)
	}
	mounts := map[string]string{}
	for _, m := range list(c, "volumeMounts") {
		mounts[str(m, "name")] = str(m, "mountPath")
	}
	secrets := map[string]string{} // volume -> secret
	for _, v := range list(pod, "volumes") {
		if s := str(v, "secret", "secretName"); s != "" {
			secrets[str(v, "name")] = s
		}
	}
	for acct, secret := range map[string]string{"acme-ru": "dasha-acme-ru", "acme-us": "dasha-acme-us", "lab": "dasha-lab"} {
		found := false
		for vol, s := range secrets {
			if s == secret && mounts[vol] == "/etc/dasha_exporter/keys/"+acct {
				found = true
			}
		}
		if !found {
			t.Errorf("account %s: Secret %s not mounted at /etc/dasha_exporter/keys/%s (mounts %v, secrets %v)", acct, secret, acct, mounts, secrets)
		}
	}

	sm := one(t, objs, "ServiceMonitor").obj
	eps := list(sm, "spec", "endpoints")
	if len(eps) != 4 {
		t.Fatalf("%d endpoints, want /metrics and one /probe per account", len(eps))
	}
	if str(eps[0], "path") != "/metrics" || str(eps[0], "relabelings", 0, "replacement") != "dasha_exporter" {
		t.Errorf("the exporter's own /metrics endpoint: %v", eps[0])
	}
	for i, acct := range []string{"acme-ru", "acme-us", "lab"} {
		ep := eps[i+1]
		if str(ep, "path") != "/probe" || str(ep, "params", "target", 0) != acct {
			t.Errorf("endpoint %d: want /probe?target=%s: %v", i+1, acct, ep)
		}
		relabel := map[string]string{}
		for _, r := range list(ep, "relabelings") {
			src := ""
			if l := list(r, "sourceLabels"); len(l) == 1 {
				src = fmt.Sprint(l[0])
			}
			relabel[str(r, "targetLabel")] = src + "|" + str(r, "replacement")
		}
		if relabel["instance"] != "__param_target|" || relabel["exporter"] != "__address__|" || relabel["job"] != "|dasha" {
			t.Errorf("endpoint %s relabelings: %v", acct, relabel)
		}
	}
}

// TestHelmTemplateMonitoring checks the opt-in objects: the ServiceMonitor's
// job, the PrometheusRule whose spec is the shipped rule file byte for byte,
// and the dashboard ConfigMap.
func TestHelmTemplateMonitoring(t *testing.T) {
	objs := render(t, filepath.Join(chartDir, "ci", "monitoring-values.yaml"))
	sm := one(t, objs, "ServiceMonitor").obj
	if str(sm, "metadata", "labels", "release") != "kube-prometheus-stack" {
		t.Errorf("ServiceMonitor labels %v: want release for kube-prometheus-stack", get(sm, "metadata", "labels"))
	}
	ep := get(sm, "spec", "endpoints", 0)
	if str(ep, "path") != "/metrics" || str(ep, "relabelings", 0, "targetLabel") != "job" || str(ep, "relabelings", 0, "replacement") != "dasha" {
		t.Errorf("ServiceMonitor endpoint %v: want job=dasha", ep)
	}

	pr := one(t, objs, "PrometheusRule")
	if str(pr.obj, "metadata", "labels", "release") != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule labels %v", get(pr.obj, "metadata", "labels"))
	}
	want, err := os.ReadFile(filepath.Join(root, "alerts", "dasha_exporter.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := ruleSpec(t, pr.text); !bytes.Equal(got, want) {
		t.Errorf("PrometheusRule spec differs from alerts/dasha_exporter.rules.yml (make sync-deploy):\n%s", firstDiff(got, want))
	}
	checkRulesWithPromtools(t, ruleSpec(t, pr.text))

	cm := one(t, objs, "ConfigMap").obj
	if str(cm, "metadata", "labels", "grafana_dashboard") != "1" || str(cm, "metadata", "annotations", "grafana_folder") != "Dasha" {
		t.Errorf("dashboard ConfigMap metadata %v", get(cm, "metadata"))
	}
	for _, f := range glob(t, filepath.Join(root, "dashboards", "*.json")) {
		want, _ := os.ReadFile(f)
		if got := str(cm, "data", filepath.Base(f)); got != string(want) {
			t.Errorf("dashboard ConfigMap's %s differs from %s", filepath.Base(f), f)
		}
	}
}

// A job name other than dasha is written into the rules' one selector.
func TestHelmTemplateJobName(t *testing.T) {
	objs := render(t, filepath.Join(chartDir, "ci", "tcp-probes-demo-values.yaml"))
	spec := string(ruleSpec(t, one(t, objs, "PrometheusRule").text))
	if strings.Contains(spec, `job="dasha"`) || !strings.Contains(spec, `up{job="my-dasha", exporter=""} == 0`) ||
		!strings.Contains(spec, `max without (instance) (up{job="my-dasha", exporter!=""}) == 0`) || !strings.Contains(spec, `absent(up{job="my-dasha"})`) {
		t.Errorf("jobName my-dasha not applied to the rules")
	}
	if r := str(one(t, objs, "ServiceMonitor").obj, "spec", "endpoints", 0, "relabelings", 0, "replacement"); r != "my-dasha" {
		t.Errorf("ServiceMonitor job %q", r)
	}
	checkRulesWithPromtools(t, []byte(spec))
}

// ruleSpec is the rendered PrometheusRule's spec, indentation removed: the
// rule file as the chart ships it.
func ruleSpec(t *testing.T, doc string) []byte {
	t.Helper()
	_, spec, ok := strings.Cut(doc, "\nspec:\n")
	if !ok {
		t.Fatalf("no spec in\n%s", doc)
	}
	var b bytes.Buffer
	for _, line := range strings.SplitAfter(spec, "\n") {
		if line == "" {
			continue
		}
		if strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "  ") {
			t.Fatalf("spec line not indented: %q", line)
		}
		b.WriteString(strings.TrimPrefix(line, "  "))
	}
	out := b.Bytes()
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out
}

// checkRulesWithPromtools runs promtool 2 (Debian's, on PATH) and promtool
// 3 check rules on rendered rules.
func checkRulesWithPromtools(t *testing.T, rules []byte) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "rendered.rules.yml")
	if err := os.WriteFile(f, rules, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{tool(t, "PROMTOOL", "promtool"), tool(t, "PROMTOOL3", "")} {
		out := run(t, root, p, "check", "rules", f)
		if strings.Contains(strings.ToLower(out), "warning") {
			t.Errorf("%s check rules warns on the rendered rules:\n%s", p, out)
		}
	}
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got %q\nwant %q", i+1, gl, wl)
		}
	}
	return "equal lines, different bytes"
}
