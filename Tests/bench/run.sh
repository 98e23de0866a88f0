#!/usr/bin/env bash
# Runs one fan-out benchmark scenario the same way each time: builds release, starts
# `hyphae serve` (and, for broadcast-max and ceiling, `hyphae bench ceiling`), runs
# `hyphae bench run` against it, and keeps the output under .build/bench-results/.
#
#   Tests/bench/run.sh SCENARIO [more `hyphae bench run` options]
#
# Scenarios (Docs/PERFORMANCE.md, Fan-out):
#   broadcast      CLIENTS (1000) on one shared ticker at RATE (100) Hz, PAYLOAD (256) bytes
#   cpu            the same at 10 Hz: host CPU per delivered frame
#   broadcast-batched  broadcast on a sink with batch_window_ms: 20 (less CPU, more latency)
#   broadcast-max  CLIENTS (1000) on a ticker as fast as possible, then the ceiling server; prints the ratio
#   ceiling        the ceiling server alone at RATE (0: as fast as possible); it writes
#                  FRAMES_PER_WRITE frames per socket write (16 at RATE 0, else 1);
#                  DIRECT_WRITES=1: send(2) on each socket, past NIO's write path
#   features       CLIENTS (10000) on stream_features at 10 Hz
#   simulations    CLIENTS (200), each its own 64x64 simulation at 10 Hz, distinct seeds
#   slow           broadcast with 10 % of the clients no longer reading
#   idle           CLIENTS (10000) subscribed to a ticker at 0.1 Hz: host RSS per connection
#   scaleout       redis-server, one producer (`hyphae run`: stream_features at 10 Hz into a Redis
#                  stream), EDGES (3) edge hosts, CLIENTS (3000) spread over them (Docs/SCALING.md);
#                  gaps and latency producer-to-client, CPU and RSS of every process
#
# Environment: CLIENTS, RATE, PAYLOAD, DURATION, WARMUP, RAMP, BENCH_THREADS (1),
# HOST_THREADS (the host's default), FRAMES_PER_WRITE (the ceiling's), PORT (18080), SKIP_BUILD=1 to use the existing build,
# HOST_BIN to serve with another `hyphae` binary (the load generator stays this build's),
# HOST_CONFIG: lines of host config for the served host, e.g. "direct_writes: false".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

SCENARIO=${1:-}
if [[ -z "$SCENARIO" ]]; then
    sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
shift

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    swift build -c release --manifest-cache none >&2
fi
HYPHAE=${HYPHAE:-"$ROOT/.build/release/hyphae"}
HOST_BIN=${HOST_BIN:-$HYPHAE}
RESULTS="$ROOT/.build/bench-results"
mkdir -p "$RESULTS"
PORT=${PORT:-18080}
CEILING_PORT=$((PORT + 10))
BENCH_THREADS=${BENCH_THREADS:-1}
ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d)
HOST_PID=""
CEILING_PID=""
cleanup() {
    [[ -n "$HOST_PID" ]] && kill "$HOST_PID" 2>/dev/null && wait "$HOST_PID" 2>/dev/null || true
    [[ -n "$CEILING_PID" ]] && kill "$CEILING_PID" 2>/dev/null && wait "$CEILING_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

source "$ROOT/Tests/bench/wait_for_port.sh"
source "$ROOT/Tests/bench/host_config.sh"

start_host() {
    mkdir -p "$WORK/pipelines"
    cp pipelines/*.yaml Tests/bench/pipelines/*.yaml "$WORK/pipelines/"
    write_host_config "$WORK/host.yaml"
    local format=()
    # Builds from before --log-format existed log JSON, which is as good here.
    if "$HOST_BIN" serve --help 2>/dev/null | grep -q -- --log-format; then format=(--log-format text); fi
    "$HOST_BIN" serve "${host_config_args[@]}" --port "$PORT" --pipelines "$WORK/pipelines" --log-level warning "${format[@]}" \
        2> "$RESULTS/host-$SCENARIO.log" &
    HOST_PID=$!
    wait_for_port "$PORT"
}

stop_host() {
    kill "$HOST_PID" 2>/dev/null || true
    wait "$HOST_PID" 2>/dev/null || true
    HOST_PID=""
}

start_ceiling() {
    "$HYPHAE" bench ceiling --port "$CEILING_PORT" --rate "$1" --payload-bytes "$2" ${HOST_THREADS:+--threads "$HOST_THREADS"} \
        ${FRAMES_PER_WRITE:+--frames-per-write "$FRAMES_PER_WRITE"} $([[ "${DIRECT_WRITES:-0}" == 1 ]] && echo --direct-writes) \
        > "$RESULTS/ceiling-$SCENARIO.log" 2>&1 &
    CEILING_PID=$!
    wait_for_port "$CEILING_PORT"
}

stop_ceiling() {
    kill "$CEILING_PID" 2>/dev/null || true
    wait "$CEILING_PID" 2>/dev/null || true
    CEILING_PID=""
}

# bench LABEL OPTIONS...: runs the load generator against the host, keeping its output.
bench() {
    local label=$1
    shift
    "$HYPHAE" bench run --threads "$BENCH_THREADS" --label "$label" "$@" | tee "$RESULTS/$label.txt"
}

json_field() {
    # json_field FILE NAME: a number from the JSON line of a bench output.
    grep '^{"bench"' "$1" | tail -1 | sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p"
}

case "$SCENARIO" in
broadcast | broadcast-batched | cpu | slow)
    default_rate=100
    [[ "$SCENARIO" == cpu ]] && default_rate=10
    slow=()
    [[ "$SCENARIO" == slow ]] && slow=(--slow-share 0.1)
    pipeline=ticker
    [[ "$SCENARIO" == broadcast-batched ]] && pipeline=bench_ticker_batched
    start_host
    bench "$SCENARIO" --port "$PORT" --host-pid "$HOST_PID" --path "/ws/$pipeline" --pipeline "$pipeline" \
        --clients "${CLIENTS:-1000}" --param rate="${RATE:-$default_rate}" --param payload_bytes="${PAYLOAD:-256}" \
        --ramp "${RAMP:-1000}" --warm-up "${WARMUP:-5}" --duration "${DURATION:-20}" "${slow[@]}" "$@"
    ;;
broadcast-max)
    start_host
    bench broadcast-max-host --port "$PORT" --host-pid "$HOST_PID" --path /ws/bench_ticker --pipeline bench_ticker \
        --clients "${CLIENTS:-1000}" --param rate=0 --param payload_bytes="${PAYLOAD:-256}" \
        --ramp "${RAMP:-1000}" --warm-up "${WARMUP:-5}" --duration "${DURATION:-15}" "$@"
    stop_host
    start_ceiling 0 "${PAYLOAD:-256}"
    bench broadcast-max-ceiling --port "$CEILING_PORT" --host-pid "$CEILING_PID" --no-host-counters \
        --clients "${CLIENTS:-1000}" --ramp "${RAMP:-1000}" --warm-up "${WARMUP:-5}" --duration "${DURATION:-15}" "$@"
    stop_ceiling
    host_fps=$(json_field "$RESULTS/broadcast-max-host.txt" frames_per_second)
    ceiling_fps=$(json_field "$RESULTS/broadcast-max-ceiling.txt" frames_per_second)
    awk -v h="$host_fps" -v c="$ceiling_fps" 'BEGIN {
        printf "broadcast-max: host %.0f frames/s, ceiling %.0f frames/s, ratio %.1f %%\n", h, c, (c > 0 ? 100 * h / c : 0)
        printf "{\"bench\":\"broadcast-max\",\"host_frames_per_second\":%.0f,\"ceiling_frames_per_second\":%.0f,\"ratio\":%.4f}\n", h, c, (c > 0 ? h / c : 0)
    }' | tee "$RESULTS/broadcast-max.txt"
    ;;
ceiling)
    start_ceiling "${RATE:-0}" "${PAYLOAD:-256}"
    bench ceiling --port "$CEILING_PORT" --host-pid "$CEILING_PID" --no-host-counters \
        --clients "${CLIENTS:-1000}" --ramp "${RAMP:-1000}" --warm-up "${WARMUP:-5}" --duration "${DURATION:-15}" "$@"
    ;;
features)
    start_host
    bench features --port "$PORT" --host-pid "$HOST_PID" --path /ws/stream_features --pipeline stream_features \
        --clients "${CLIENTS:-10000}" --param update_interval_ms=100 \
        --ramp "${RAMP:-2000}" --warm-up "${WARMUP:-5}" --duration "${DURATION:-20}" "$@"
    ;;
simulations)
    start_host
    bench simulations --port "$PORT" --host-pid "$HOST_PID" --path /ws/bench_simulation --pipeline bench_simulation \
        --clients "${CLIENTS:-200}" --param grid_size=64 --param steps_per_second=10 --param seed=1000 --param-per-client seed \
        --stream-ids unique --ramp "${RAMP:-1000}" --warm-up "${WARMUP:-5}" --duration "${DURATION:-20}" "$@"
    ;;
idle)
    start_host
    bench idle --port "$PORT" --host-pid "$HOST_PID" --path /ws/ticker --pipeline ticker \
        --clients "${CLIENTS:-10000}" --param rate=0.1 --param payload_bytes=0 \
        --ramp "${RAMP:-2000}" --warm-up "${WARMUP:-5}" --duration "${DURATION:-10}" "$@"
    ;;
scaleout)
    edges=${EDGES:-3}
    clients=${CLIENTS:-3000}
    redis_port=$((PORT + 20))
    command -v redis-server >/dev/null || { echo "run.sh: scaleout needs redis-server (apt-get install redis-server)" >&2; exit 1; }
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" --loglevel warning \
        > "$RESULTS/redis-$SCENARIO.log" 2>&1 &
    REDIS_PID=$!
    wait_for_port "$redis_port"
    mkdir -p "$WORK/producer" "$WORK/edge"
    export HYPHAE_REDIS_URL="redis://127.0.0.1:$redis_port"
    cp Docs/examples/scaleout/producer/pipelines/*.yaml "$WORK/producer/"
    cp Docs/examples/scaleout/edge/pipelines/*.yaml "$WORK/edge/"
    "$HOST_BIN" run stream_features --pipelines "$WORK/producer" 2> "$RESULTS/producer-$SCENARIO.log" &
    PRODUCER_PID=$!
    EDGE_PIDS=()
    for index in $(seq 1 "$edges"); do
        "$HOST_BIN" serve --port $((PORT + index)) --pipelines "$WORK/edge" --log-level warning \
            2> "$RESULTS/edge$index-$SCENARIO.log" &
        EDGE_PIDS+=($!)
        wait_for_port $((PORT + index))
    done
    trap 'kill "$PRODUCER_PID" "${EDGE_PIDS[@]}" "$REDIS_PID" 2>/dev/null; wait 2>/dev/null; cleanup' EXIT
    # cpu_ticks PID: user + system clock ticks the process has used.
    cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
    rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
    all_pids=("$REDIS_PID" "$PRODUCER_PID" "${EDGE_PIDS[@]}")
    names=(redis producer $(for index in $(seq 1 "$edges"); do echo "edge$index"; done))
    per_edge=$((clients / edges))
    duration=${DURATION:-20}
    warmup=${WARMUP:-5}
    ramp=${RAMP:-1000}
    # A previous run's files would satisfy the wait below before the new benches truncate them.
    rm -f "$RESULTS"/scaleout-edge*.err "$RESULTS"/scaleout-edge*.txt
    for index in $(seq 1 "$edges"); do
        "$HYPHAE" bench run --threads "$BENCH_THREADS" --label "scaleout-edge$index" --port $((PORT + index)) \
            --host-pid "${EDGE_PIDS[$((index - 1))]}" --path /ws/stream_features --pipeline stream_features \
            --clients "$per_edge" --ramp "$ramp" --warm-up "$warmup" --duration "$duration" "$@" \
            > "$RESULTS/scaleout-edge$index.txt" 2> "$RESULTS/scaleout-edge$index.err" &
        BENCH_PIDS+=($!)
    done
    # CPU over the measured window: once every bench has subscribed its clients, after
    # the warm-up, for about the duration.
    for index in $(seq 1 "$edges"); do
        until grep -q "subscribed in" "$RESULTS/scaleout-edge$index.err" 2>/dev/null; do sleep 0.2; done
        grep "subscribed in" "$RESULTS/scaleout-edge$index.err"
    done
    sleep "$warmup"
    declare -a before
    for i in "${!all_pids[@]}"; do before[$i]=$(cpu_ticks "${all_pids[$i]}"); done
    start=$(date +%s.%N)
    sleep $((duration - 2))
    end=$(date +%s.%N)
    hz=$(getconf CLK_TCK)
    for i in "${!all_pids[@]}"; do
        after=$(cpu_ticks "${all_pids[$i]}")
        awk -v n="${names[$i]}" -v b="${before[$i]}" -v a="$after" -v s="$start" -v e="$end" -v hz="$hz" -v rss="$(rss_kib "${all_pids[$i]}")" \
            'BEGIN { printf "%-9s cpu %5.1f %%  rss %6.1f MiB\n", n, 100 * (a - b) / hz / (e - s), rss / 1024 }'
    done | tee "$RESULTS/scaleout-processes.txt"
    wait "${BENCH_PIDS[@]}"
    for index in $(seq 1 "$edges"); do
        echo "--- edge$index"
        grep -E 'gaps|latency|frames/s|clients' "$RESULTS/scaleout-edge$index.txt" || cat "$RESULTS/scaleout-edge$index.txt"
    done
    ;;
*)
    echo "run.sh: unknown scenario '$SCENARIO'; run it without arguments for the list" >&2
    exit 2
    ;;
esac
