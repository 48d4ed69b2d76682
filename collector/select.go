package collector

import (
	"fmt"
	"regexp"
	"slices"
)

// MaxSelection bounds each of the allowlist and the denylist: there are
// eleven per-number families, and a list is checked entry by entry.
const MaxSelection = 64

// maxSelectionEntry bounds one entry (a name or a regexp).
const maxSelectionEntry = 256

// FamilyNames returns the names of the per-number families, in the order
// they are exposed: the only families a selection can drop. dasha_up,
// dasha_sip_phone_numbers and the exporter's own metrics are always kept.
func FamilyNames() []string {
	out := make([]string, len(families))
	for i, f := range families {
		out[i] = f.name
	}
	return out
}

// dropped resolves the allowlist or denylist against the family table: the
// set of per-number families not to expose, nil when every one is kept.
// Entries are family names or regular expressions, anchored at both ends
// as Prometheus anchors relabelling regexps ("dasha_sip_registration_.*"),
// so that a name never matches a longer one. Its errors are *OptionError.
func dropped(allow, deny []string) (map[string]bool, error) {
	if len(allow) > 0 && len(deny) > 0 {
		return nil, &OptionError{Option: "metric_allowlist", Other: "metric_denylist", Msg: "are both set; they exclude each other (as in kube-state-metrics): use one"}
	}
	option, list := "metric_denylist", deny
	if len(allow) > 0 {
		option, list = "metric_allowlist", allow
	}
	if len(list) > MaxSelection {
		return nil, &OptionError{Option: option, Msg: fmt.Sprintf("lists %d entries; at most %d are allowed", len(list), MaxSelection)}
	}
	matched := map[string]bool{}
	for _, entry := range list {
		re, err := compileEntry(entry)
		if err != nil {
			return nil, &OptionError{Option: option, Msg: err.Error()}
		}
		hit := false
		for _, f := range families {
			if re.MatchString(f.name) {
				matched[f.name], hit = true, true
			}
		}
		if !hit {
			// A typo would otherwise drop (or keep) nothing, silently.
			return nil, &OptionError{Option: option, Msg: fmt.Sprintf("%q matches no per-number family (one of %v; dasha_up, dasha_sip_phone_numbers and the exporter's own metrics are always kept)", entry, FamilyNames())}
		}
	}
	if len(matched) == 0 {
		return nil, nil
	}
	drop := map[string]bool{}
	for _, f := range families {
		if matched[f.name] != (option == "metric_allowlist") {
			drop[f.name] = true
		}
	}
	if len(drop) == 0 {
		return nil, nil
	}
	return drop, nil
}

// compileEntry compiles one entry of a selection, anchored.
func compileEntry(entry string) (*regexp.Regexp, error) {
	switch {
	case entry == "":
		return nil, fmt.Errorf("an entry is empty")
	case len(entry) > maxSelectionEntry:
		return nil, fmt.Errorf("an entry is %d bytes long; at most %d are allowed", len(entry), maxSelectionEntry)
	}
	re, err := regexp.Compile("^(?:" + entry + ")$")
	if err != nil {
		return nil, fmt.Errorf("%q is not a family name or a regular expression: %v", entry, err)
	}
	return re, nil
}

// Dropped returns the per-number families these options do not expose, in
// the order of FamilyNames; none for options that do not validate.
func (o Options) Dropped() []string {
	drop, err := dropped(o.MetricAllowlist, o.MetricDenylist)
	if err != nil {
		return nil
	}
	return slices.DeleteFunc(FamilyNames(), func(name string) bool { return !drop[name] })
}
