#!/usr/bin/env bash
# demo-stack: the whole path on one machine, in the foreground.
#
#   dasha_exporter --demo (simulated fleet)  ->  Prometheus with the project's
#   rules  ->  Alertmanager with the example routing and template
#   (alerts/examples/alertmanager.yml, dasha.tmpl)  ->  dasha-demo-receiver,
#   which prints every notification as it arrives.
#
# Needs Debian's prometheus and prometheus-alertmanager packages (make tools).
# Ctrl-C stops everything. Environment:
#   DEMO_FOR=30s   shorten every `for:` of the rules to 30s (default: the
#                  shipped durations; the first page then comes after about
#                  6 minutes, see README "Demo stack")
#   DEMO_DIR=...   where data and logs go (default: a new temporary directory)
# Ports (loopback only): exporter 9612, Prometheus 9090, Alertmanager 9093,
# receiver 9097 (the example configuration's receiver address).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${DEMO_DIR:-$(mktemp -d -t dasha-demo-stack.XXXXXX)}
mkdir -p "$dir/rules" "$dir/prometheus" "$dir/alertmanager"

need() { command -v "$1" >/dev/null 2>&1 || { echo "demo-stack: $1 not found; run 'make tools' (Debian: apt-get install prometheus prometheus-alertmanager)" >&2; exit 1; }; }
need prometheus
need prometheus-alertmanager
need go

pids=()
stop() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "demo-stack: stopped; data and logs in $dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

echo "demo-stack: building into $dir"
(cd "$root" && go build -o "$dir/dasha_exporter" . && go build -o "$dir/dasha-demo-receiver" ./cmd/dasha-demo-receiver)

# The rules as shipped, or with every `for:` line shortened (the rule file
# keeps each on a line of its own for this).
for f in "$root"/alerts/dasha_exporter.rules.yml "$root"/alerts/examples/demo-provider-names.rules.yml; do
	if [ -n "${DEMO_FOR:-}" ]; then
		sed -E "s/^([[:space:]]+)for: [0-9]+[smhd]\$/\\1for: ${DEMO_FOR}/" "$f" >"$dir/rules/$(basename "$f")"
	else
		cp "$f" "$dir/rules/"
	fi
done

cat >"$dir/prometheus/prometheus.yml" <<YAML
global:
  scrape_interval: 15s
  evaluation_interval: 15s
rule_files:
  - $dir/rules/*.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:9093']
scrape_configs:
  - job_name: dasha
    static_configs:
      - targets: ['127.0.0.1:9612']
YAML

"$dir/dasha-demo-receiver" --listen=127.0.0.1:9097 &
pids+=($!)
"$dir/dasha_exporter" --demo --web.listen-address=127.0.0.1:9612 >"$dir/exporter.log" 2>&1 &
pids+=($!)
prometheus-alertmanager --config.file="$root/alerts/examples/alertmanager.yml" \
	--storage.path="$dir/alertmanager" --web.listen-address=127.0.0.1:9093 \
	--cluster.listen-address= >"$dir/alertmanager.log" 2>&1 &
pids+=($!)
prometheus --config.file="$dir/prometheus/prometheus.yml" --storage.tsdb.path="$dir/prometheus/data" \
	--web.listen-address=127.0.0.1:9090 >"$dir/prometheus.log" 2>&1 &
pids+=($!)

# A port already taken, or a bad configuration, ends a process at once: say
# which, with its log, rather than wait for notifications that never come.
sleep 3
names=(receiver exporter alertmanager prometheus)
for i in "${!pids[@]}"; do
	if ! kill -0 "${pids[$i]}" 2>/dev/null; then
		echo "demo-stack: ${names[$i]} exited at start; its log:" >&2
		tail -n 20 "$dir/${names[$i]}.log" 2>/dev/null >&2 || true
		exit 1
	fi
done

if [ -n "${DEMO_FOR:-}" ]; then durations="every for: shortened to $DEMO_FOR"; else durations="for: as shipped"; fi
cat <<TXT
demo-stack: running (Ctrl-C stops it)
  exporter      http://127.0.0.1:9612/metrics   (--demo: 30 simulated numbers)
  Prometheus    http://127.0.0.1:9090/alerts
  Alertmanager  http://127.0.0.1:9093
  logs          $dir/*.log
  rules         $durations
Notifications appear below as Alertmanager sends them (README, "Demo stack", says what and when).
TXT
wait
