// Monitoring mixin for dasha_exporter: the alert rules and the Grafana
// dashboard that the repository ships, read from those very files
// (alerts/*.yml, dashboards/*.json), so the mixin cannot drift from them.
// With the default _config it yields them unchanged (the compat tests check).
local shipped = {
  rules: std.parseYaml(importstr '../alerts/dasha_exporter.rules.yml'),
  dashboard: std.parseJson(importstr '../dashboards/dasha-sip-registrations.json'),
  // What the shipped files say, replaced by _config where it differs.
  jobSelector: 'job="dasha"',
  runbookURLBase: 'https://github.com/dasha-exporter/dasha_exporter/blob/main/docs/runbook.md',
};

{
  _config+:: {
    // The scrape job of the exporter. The rules name it in one place only,
    // the expression of DashaExporterDown; every other rule selects the
    // exporter's own metric names.
    jobSelector: shipped.jobSelector,
    // Where the runbook lives: replaces the shipped base wherever a
    // runbook_url names it (the '#<alert>' anchor is kept).
    runbookURLBase: shipped.runbookURLBase,
  },

  local withConfig(rule) =
    rule
    + (if std.objectHas(rule, 'expr') then
         { expr: std.strReplace(rule.expr, shipped.jobSelector, $._config.jobSelector) }
       else {})
    + (if std.objectHas(rule, 'annotations') && std.objectHas(rule.annotations, 'runbook_url') then
         { annotations+: { runbook_url: std.strReplace(rule.annotations.runbook_url, shipped.runbookURLBase, $._config.runbookURLBase) } }
       else {}),

  // The shipped rule groups as they are: each group holds its alerts
  // together with the recording rules they read, because Prometheus
  // evaluates a group's rules in order and an alert must see this
  // evaluation's recorded value. Splitting the recording rules into
  // prometheusRules would lose that, so prometheusRules adds no groups.
  prometheusAlerts+:: {
    groups+: [
      group { rules: [withConfig(r) for r in group.rules] }
      for group in shipped.rules.groups
    ],
  },

  prometheusRules+:: {
    groups+: [],
  },

  grafanaDashboards+:: {
    'dasha-sip-registrations.json': shipped.dashboard,
  },
}
