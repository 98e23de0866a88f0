#!/usr/bin/env bash
# Measures Hyphae against nginx with nchan (the fan-out a Hyphae user would otherwise
# deploy) in one run, under the same loads, with the same load generator
# (`hyphae bench run`; `--raw` for nchan), and prints a table with Hyphae's ratio to
# nchan. From a fresh clone, one command (root, for apt-get when nginx is missing):
#
#   Tests/bench/compare.sh
#
# For each load, REPEATS times: nginx + nchan (one worker, loopback, its own
# configuration in a temporary folder: Tests/bench/nchan-server.sh) fed by
# Tests/bench/publisher.py at the load's rate with the frames a Hyphae ticker sends
# (~400 bytes: payload_bytes 256, stream id `bench`), then a release `hyphae serve`
# with its `ticker` pipeline at the same rate and size; each is stopped before the next starts.
# Loads: 1000x10 (1,000 subscribers, 10 Hz), 1000x100, 10000x10, 10000xidle (0.1 Hz).
# Figures, medians of the repeats: delivery (frames received / subscribers x rate x
# window), gaps, latency p50/p99 (receive time - the frame's timestamp), server CPU per
# delivered frame (user + system of every server process, from /proc), RSS per
# connection (RSS growth / connections), and the 1-minute load average before each run.
#
# Environment: REPEATS (3; 1 for a quick look), LOADS (all four, space-separated),
# DURATION (10 s measured), WARMUP (3 s), BENCH_THREADS (1), HOST_THREADS (Hyphae's
# default: one event loop per core), SKIP_BUILD=1 (use the existing release build),
# HOST_BIN (serve with another `hyphae`), HOST_CONFIG (host config lines, e.g.
# "direct_writes: false"), TICKER_PIPELINE (Hyphae's pipeline file, named ticker, path
# /ws/ticker; default the bundled pipelines/ticker.yaml). Three repeats of the four loads take about
# 10 minutes on the 2-core development VM (Docs/PERFORMANCE.md); results and every
# run's bench output go to .build/bench-results/compare/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

REPEATS=${REPEATS:-3}
LOADS=${LOADS:-"1000x10 1000x100 10000x10 10000xidle"}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
BENCH_THREADS=${BENCH_THREADS:-1}
PAYLOAD=256
RESULTS="$ROOT/.build/bench-results/compare"

if ! command -v nginx >/dev/null || [[ ! -f /usr/lib/nginx/modules/ngx_nchan_module.so ]]; then
    echo "compare.sh: installing Debian's nginx and libnginx-mod-nchan" >&2
    command -v apt-get >/dev/null || { echo "compare.sh: no apt-get; install nginx with the nchan module" >&2; exit 1; }
    apt-get update -qq && apt-get install -y -qq nginx libnginx-mod-nchan >/dev/null
fi
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 >/dev/null; }

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    swift build -c release --manifest-cache none >&2
fi
HYPHAE="$ROOT/.build/release/hyphae"
HOST_BIN=${HOST_BIN:-$HYPHAE}
mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.txt
ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d)
SERVER_PID=""
PUBLISHER_PID=""
stop_server() {
    [[ -n "$PUBLISHER_PID" ]] && { kill "$PUBLISHER_PID" 2>/dev/null || true; wait "$PUBLISHER_PID" 2>/dev/null || true; }
    [[ -n "$SERVER_PID" ]] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    PUBLISHER_PID=""
    SERVER_PID=""
}
trap 'stop_server; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

source "$ROOT/Tests/bench/wait_for_port.sh"
source "$ROOT/Tests/bench/host_config.sh"

# run_one SERVER CLIENTS RATE LABEL: starts the server, loads it, stops it.
run_one() {
    local server=$1 clients=$2 rate=$3 label=$4
    local port ramp=1000 payload=$PAYLOAD
    port=$(free_port)
    [[ $clients -gt 1000 ]] && ramp=2000
    # The idle load measures memory: frames without padding, as run.sh idle.
    [[ $rate == 0.1 ]] && payload=0
    local common=(--threads "$BENCH_THREADS" --label "$label" --clients "$clients" --ramp "$ramp" --warm-up "$WARMUP" --duration "$DURATION")
    local load
    load=$(cut -d' ' -f1 /proc/loadavg)
    if [[ $server == nchan ]]; then
        rm -rf "$WORK/nchan"
        "$ROOT/Tests/bench/nchan-server.sh" "$WORK/nchan" "$port" 2> "$RESULTS/$label.server.log" &
        SERVER_PID=$!
        wait_for_port "$port"
        local worker
        worker=$(pgrep -P "$SERVER_PID" | head -1)
        python3 "$ROOT/Tests/bench/publisher.py" --url "http://127.0.0.1:$port/pub" --rate "$rate" --payload-bytes "$payload" \
            2> "$RESULTS/$label.publisher.log" &
        PUBLISHER_PID=$!
        "$HYPHAE" bench run --raw "ws://127.0.0.1:$port/sub" --host-pid "$SERVER_PID" ${worker:+--host-pid "$worker"} "${common[@]}" \
            > "$RESULTS/$label.txt" 2> "$RESULTS/$label.bench.log"
    else
        mkdir -p "$WORK/pipelines"
        cp "${TICKER_PIPELINE:-pipelines/ticker.yaml}" "$WORK/pipelines/ticker.yaml"
        write_host_config "$WORK/host.yaml"
        "$HOST_BIN" serve "${host_config_args[@]}" --port "$port" --pipelines "$WORK/pipelines" --log-level warning \
            2> "$RESULTS/$label.server.log" &
        SERVER_PID=$!
        wait_for_port "$port"
        "$HYPHAE" bench run --port "$port" --host-pid "$SERVER_PID" --path /ws/ticker --pipeline ticker \
            --param rate="$rate" --param payload_bytes="$payload" "${common[@]}" \
            > "$RESULTS/$label.txt" 2> "$RESULTS/$label.bench.log"
    fi
    stop_server
    printf '%s %s %s %s %s\n' "$server" "$clients" "$rate" "$load" "$(grep '^{"bench"' "$RESULTS/$label.txt" | tail -1)" >> "$RESULTS/runs.jsonl.txt"
    grep '^{"bench"' "$RESULTS/$label.txt" | tail -1 | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("%-28s load %s  frames/s %8.0f  gaps %d  p50 %7.2f ms  p99 %7.2f ms  cpu %6.2f us/frame  rss/conn %5.2f KiB  errors %d" % (
    sys.argv[1], sys.argv[2], r["frames_per_second"], r["gaps"], r["latency_ms_p50"], r["latency_ms_p99"],
    r["host_cpu_us_per_frame"] or 0, (r["host_rss_bytes_per_connection"] or 0) / 1024, r["errors"]))' "$label" "$load" >&2
}

echo "compare.sh: $(nproc) cores, $(uname -r), nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), hyphae $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'); loads: $LOADS; $REPEATS repeat(s)" >&2
started=$(date +%s)
for load in $LOADS; do
    clients=${load%x*}
    rate=${load#*x}
    [[ $rate == idle ]] && rate=0.1
    for repeat in $(seq 1 "$REPEATS"); do
        run_one nchan "$clients" "$rate" "$load-nchan-$repeat"
        run_one hyphae "$clients" "$rate" "$load-hyphae-$repeat"
    done
done
echo "compare.sh: $(( $(date +%s) - started )) s in all" >&2

python3 "$ROOT/Tests/bench/compare_table.py" "$RESULTS/runs.jsonl.txt" | tee "$RESULTS/compare.md"
