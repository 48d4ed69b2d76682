package collector

import (
	"log/slog"
	"strconv"
	"strings"
)

// shippedUse is what of the shipped monitoring reads one per-number
// family: alerts (directly or through the recording rules they build on)
// and dashboard panels and variables.
type shippedUse struct {
	Alerts []string
	Panels []string
}

// A FamilyUse is a dropped family that shipped alerts or dashboard panels
// read: without it they may stay silent or empty (most join on it).
type FamilyUse struct {
	Family string
	Alerts []string // alert names in alerts/dasha_exporter.rules.yml
	Panels []string // panel titles (and $variables) in dashboards/
}

func (u FamilyUse) String() string {
	var what []string
	if len(u.Alerts) > 0 {
		what = append(what, "the alerts "+strings.Join(u.Alerts, ", "))
	}
	if len(u.Panels) > 0 {
		what = append(what, "the dashboard panels "+quoteAll(u.Panels))
	}
	return u.Family + " is dropped, but " + strings.Join(what, " and ") + " read it: they may stay silent or empty"
}

// DroppedInUse returns the families these options drop that the shipped
// alerts or dashboard read, in the order of FamilyNames. The binary has no
// rule or dashboard files: it knows them from shippedUses, a table that
// TestShippedUsesAreCurrent keeps in step with alerts/ and dashboards/.
func (o Options) DroppedInUse() []FamilyUse {
	var out []FamilyUse
	for _, name := range o.Dropped() {
		if u, ok := shippedUses[name]; ok {
			out = append(out, FamilyUse{Family: name, Alerts: u.Alerts, Panels: u.Panels})
		}
	}
	return out
}

// warnDroppedInUse logs one warning per dropped family the shipped alerts
// or dashboard read. New calls it, so it is said for every account when it
// is built: at start-up, and on a reload that changes the account.
func warnDroppedInUse(log *slog.Logger, o Options) {
	for _, u := range o.DroppedInUse() {
		log.Warn("a dropped per-number family is read by the shipped alerts or dashboard: they may stay silent or empty", u.logAttrs()...)
	}
}

// logAttrs are the warning's attributes: the family and what reads it.
func (u FamilyUse) logAttrs() []any {
	attrs := []any{"family", u.Family}
	if len(u.Alerts) > 0 {
		attrs = append(attrs, "alerts", strings.Join(u.Alerts, ", "))
	}
	if len(u.Panels) > 0 {
		attrs = append(attrs, "panels", quoteAll(u.Panels))
	}
	return attrs
}

func quoteAll(titles []string) string {
	q := make([]string, len(titles))
	for i, t := range titles {
		q[i] = strconv.Quote(t)
	}
	return strings.Join(q, ", ")
}
