#!/usr/bin/env bash
# demo-stack: the whole path on one machine, in the foreground.
#
#   dasha_exporter --demo (simulated fleet)  ->  Prometheus with the project's
#   rules  ->  Alertmanager with the example routing and template
#   (alerts/examples/alertmanager.yml, dasha.tmpl)  ->  dasha-demo-receiver,
#   which prints every notification as it arrives.
#
# Needs Go and Debian's prometheus and prometheus-alertmanager packages, and
# no root (README "Demo stack"). Ctrl-C stops everything.
#
#   scripts/demo-stack.sh                 run the stack
#   scripts/demo-stack.sh --config-only   only write the configuration the
#                                         stack would run (rules, prometheus.yml,
#                                         alertmanager.yml) into DEMO_DIR and
#                                         print that directory; needs no tool
#                                         but this shell and awk
# Environment:
#   DEMO_FOR=30s   shorten the rules' `for:` durations to 30s, except that no
#                  alert's goes below the floor the demo fleet needs (below);
#                  default: the shipped durations. The timeline of both is in
#                  README "Demo stack".
#   DEMO_DIR=...   where configuration, data and logs go (default: a new
#                  temporary directory, kept at the end for its logs)
#   DEMO_EXPORTER_PORT=9612  DEMO_PROMETHEUS_PORT=9090
#   DEMO_ALERTMANAGER_PORT=9093  DEMO_RECEIVER_PORT=9097
#                  the ports, all on 127.0.0.1. Alertmanager's receiver URLs
#                  follow DEMO_RECEIVER_PORT (the running alertmanager.yml is
#                  generated from the example); its cluster port is off.
#
# DEMO_FOR floors. The demo fleet (internal/fakeapi/demo.go) has two normal
# drop-outs of two minutes: Pharmacy re-registers (state Registering) and
# Flaky trunk's unhealthy half. The shipped rules rely on the `for:` of
# DashaSIPRegistrationFailing (5m) outlasting such a drop-out, which is left
# to DashaSIPRegistrationFlapping once it repeats; the same goes for
# DashaSIPRegistrationFleetDegraded (5m), which a drop-out on top of the
# fleet's five numbers failing for good takes to its 20%. Under DEMO_FOR
# those two keep 3m at least: a two-minute drop-out as Prometheus sees it
# (plus a 15s scrape and a 15s evaluation) never reaches it. Every other
# alert keeps 30s at least (two evaluations: none fires before the first
# scrape), and none gets longer than shipped.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

config_only=false
case "${1:-}" in
"") ;;
--config-only) config_only=true ;;
*)
	echo "usage: $0 [--config-only]" >&2
	exit 2
	;;
esac

# Ports: numbers, distinct.
exporter_port=${DEMO_EXPORTER_PORT:-9612}
prometheus_port=${DEMO_PROMETHEUS_PORT:-9090}
alertmanager_port=${DEMO_ALERTMANAGER_PORT:-9093}
receiver_port=${DEMO_RECEIVER_PORT:-9097}
port_vars=(DEMO_EXPORTER_PORT DEMO_PROMETHEUS_PORT DEMO_ALERTMANAGER_PORT DEMO_RECEIVER_PORT)
ports=("$exporter_port" "$prometheus_port" "$alertmanager_port" "$receiver_port")
for i in "${!ports[@]}"; do
	p=${ports[$i]}
	if ! [[ $p =~ ^[0-9]{1,5}$ ]] || ((10#$p < 1 || 10#$p > 65535)); then
		echo "demo-stack: ${port_vars[$i]}=$p is not a port number (1-65535)" >&2
		exit 2
	fi
	ports[i]=$((10#$p))
	for ((j = 0; j < i; j++)); do
		if [ "${ports[$j]}" = "${ports[$i]}" ]; then
			echo "demo-stack: ${port_vars[$j]} and ${port_vars[$i]} are both ${ports[$i]}" >&2
			exit 2
		fi
	done
done
exporter_port=${ports[0]} prometheus_port=${ports[1]} alertmanager_port=${ports[2]} receiver_port=${ports[3]}

# DEMO_FOR: one number and one unit, as a `for:` takes it.
demo_for_s=""
if [ -n "${DEMO_FOR:-}" ]; then
	if ! [[ $DEMO_FOR =~ ^([0-9]+)([smh])$ ]]; then
		echo "demo-stack: DEMO_FOR=$DEMO_FOR: want a number and a unit s, m or h (30s, 2m)" >&2
		exit 2
	fi
	case "${BASH_REMATCH[2]}" in
	s) demo_for_s=$((10#${BASH_REMATCH[1]})) ;;
	m) demo_for_s=$((10#${BASH_REMATCH[1]} * 60)) ;;
	h) demo_for_s=$((10#${BASH_REMATCH[1]} * 3600)) ;;
	esac
fi

# Tools: all missing ones named at once, with the Debian packages.
if ! $config_only; then
	missing=() packages=()
	for t in prometheus:prometheus prometheus-alertmanager:prometheus-alertmanager; do
		if ! command -v "${t%%:*}" >/dev/null 2>&1; then
			missing+=("${t%%:*}") packages+=("${t#*:}")
		fi
	done
	if ((${#packages[@]})); then
		echo "demo-stack: ${missing[*]} not found: install the Debian package(s) ${packages[*]}:" >&2
		echo "  sudo apt-get install --no-install-recommends ${packages[*]}" >&2
		echo "(Debian then starts its own prometheus/prometheus-alertmanager services on 9090/9093: stop them, or set DEMO_PROMETHEUS_PORT and DEMO_ALERTMANAGER_PORT)" >&2
	fi
	if ! command -v go >/dev/null 2>&1; then
		echo "demo-stack: go not found: install Go $(awk '$1 == "go" { print $2; exit }' "$root/go.mod") or later (https://go.dev/dl/)" >&2
		packages+=(go)
	fi
	((${#packages[@]} == 0)) || exit 1
fi

dir=${DEMO_DIR:-$(mktemp -d -t dasha-demo-stack.XXXXXX)}
mkdir -p "$dir/rules" "$dir/prometheus" "$dir/alertmanager"

# The rules as shipped, or with every `for:` line rewritten (the rule file
# keeps each on a line of its own for this; alerts/alerts_test.go checks).
# shorten prints the file with DEMO_FOR applied under the floors above.
shorten() {
	awk -v want="$demo_for_s" '
	function secs(d,   n, u) {
		n = substr(d, 1, length(d) - 1) + 0; u = substr(d, length(d))
		return n * (u == "s" ? 1 : u == "m" ? 60 : u == "h" ? 3600 : 86400)
	}
	function fmt(s) {
		if (s % 3600 == 0) return (s / 3600) "h"
		if (s % 60 == 0) return (s / 60) "m"
		return s "s"
	}
	/^[[:space:]]*- alert: / { alert = $3 }
	/^[[:space:]]+for: [0-9]+[smhd]$/ {
		shipped = secs($2)
		floor = (alert == "DashaSIPRegistrationFailing" || alert == "DashaSIPRegistrationFleetDegraded") ? 180 : 30
		s = want + 0
		if (s < floor) s = floor
		if (s > shipped) s = shipped
		sub(/for: .*/, "for: " fmt(s))
		printf "%s -> %s\n", alert, fmt(s) > "/dev/stderr"
	}
	{ print }
	' "$1"
}
rm -f "$dir/rules/for-durations.txt"
for f in "$root"/alerts/dasha_exporter.rules.yml "$root"/alerts/examples/demo-provider-names.rules.yml; do
	if [ -n "$demo_for_s" ]; then
		shorten "$f" >"$dir/rules/$(basename "$f")" 2>>"$dir/rules/for-durations.txt"
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
        - targets: ['127.0.0.1:$alertmanager_port']
scrape_configs:
  - job_name: dasha
    static_configs:
      - targets: ['127.0.0.1:$exporter_port']
YAML

# Alertmanager runs the example with its receiver URLs on the receiver's
# port; the template goes beside it (the example names it relatively).
example="$root/alerts/examples/alertmanager.yml"
receiver_url='http://127.0.0.1:9097/'
n=$(grep -c "api_url: '$receiver_url" "$example" || true)
if [ "$n" -eq 0 ]; then
	echo "demo-stack: $example has no api_url under $receiver_url to point at the receiver" >&2
	exit 1
fi
sed "s|api_url: '$receiver_url|api_url: 'http://127.0.0.1:$receiver_port/|" "$example" >"$dir/alertmanager/alertmanager.yml"
cp "$root/alerts/examples/dasha.tmpl" "$dir/alertmanager/"

if $config_only; then
	echo "$dir"
	exit 0
fi

# A port taken by something else (Debian's own prometheus.service on 9090,
# say) would end that process at once: say so before building.
for i in "${!ports[@]}"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/${ports[$i]}") 2>/dev/null; then
		echo "demo-stack: 127.0.0.1:${ports[$i]} is in use; set ${port_vars[$i]} to a free port" >&2
		exit 1
	fi
done

pids=()
stop() {
	local pid waited=0
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	# Bounded: whatever has not exited after 10 s is killed.
	for pid in "${pids[@]}"; do
		while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do
			sleep 0.1
			waited=$((waited + 1))
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	echo "demo-stack: stopped; configuration, data and logs in $dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

echo "demo-stack: building into $dir"
(cd "$root" && go build -o "$dir/dasha_exporter" . && go build -o "$dir/dasha-demo-receiver" ./cmd/dasha-demo-receiver)

names=(exporter prometheus alertmanager receiver)
"$dir/dasha_exporter" --demo --web.listen-address="127.0.0.1:$exporter_port" >"$dir/exporter.log" 2>&1 &
pids+=($!)
prometheus --config.file="$dir/prometheus/prometheus.yml" --storage.tsdb.path="$dir/prometheus/data" \
	--web.listen-address="127.0.0.1:$prometheus_port" >"$dir/prometheus.log" 2>&1 &
pids+=($!)
prometheus-alertmanager --config.file="$dir/alertmanager/alertmanager.yml" \
	--storage.path="$dir/alertmanager" --web.listen-address="127.0.0.1:$alertmanager_port" \
	--cluster.listen-address= >"$dir/alertmanager.log" 2>&1 &
pids+=($!)
"$dir/dasha-demo-receiver" --listen="127.0.0.1:$receiver_port" 2>"$dir/receiver.log" &
pids+=($!)

# Each process listens within 30 s, or the stack stops saying which did not
# and showing its log (a bad configuration ends a process at once).
for i in "${!pids[@]}"; do
	for ((tries = 0; ; tries++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/${ports[$i]}") 2>/dev/null; then
			break
		fi
		if ! kill -0 "${pids[$i]}" 2>/dev/null || ((tries >= 300)); then
			echo "demo-stack: ${names[$i]} is not listening on 127.0.0.1:${ports[$i]}; its log:" >&2
			tail -n 20 "$dir/${names[$i]}.log" >&2 2>/dev/null || true
			exit 1
		fi
		sleep 0.1
	done
done

if [ -n "$demo_for_s" ]; then
	durations="DEMO_FOR=$DEMO_FOR: $(paste -sd, "$dir/rules/for-durations.txt" | sed 's/,/, /g')"
else
	durations="for: as shipped"
fi
cat <<TXT
demo-stack: running since $(date -u +%H:%M:%S) UTC (Ctrl-C stops it)
  exporter      http://127.0.0.1:$exporter_port/metrics   (--demo: 30 simulated numbers)
  Prometheus    http://127.0.0.1:$prometheus_port/alerts
  Alertmanager  http://127.0.0.1:$alertmanager_port
  receiver      http://127.0.0.1:$receiver_port/<pager|tickets>
  logs          $dir/*.log
  rules         $durations
Notifications appear below as Alertmanager sends them (README, "Demo stack", says what and when).
TXT
# Until Ctrl-C, or until one of them ends (then the stack stops with it).
status=0
wait -n "${pids[@]}" || status=$?
echo "demo-stack: a process ended (status $status); stopping the others" >&2
for i in "${!pids[@]}"; do
	if ! kill -0 "${pids[$i]}" 2>/dev/null; then
		echo "demo-stack: ${names[$i]} ended; the end of its log:" >&2
		tail -n 20 "$dir/${names[$i]}.log" >&2 2>/dev/null || true
	fi
done
exit 1
