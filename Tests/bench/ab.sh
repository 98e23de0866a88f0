#!/usr/bin/env bash
# Compares two `hyphae` builds as hosts under one scenario of run.sh, alternating them
# ROUNDS times in one run (A, B, A, B, ...), with this build's load generator, and
# prints each round and the medians of host CPU per frame, frames/s, latency p99 and
# gaps, with B's CPU per frame as a ratio of A's.
#
#   Tests/bench/ab.sh A_BINARY B_BINARY [SCENARIO (cpu)] [ROUNDS (3)]
#
# Build both first, e.g. a commit in a worktree with --scratch-path .build-old, and
# this one with `swift build -c release`. run.sh's environment applies (CLIENTS, ...);
# A_CONFIG and B_CONFIG are each side's HOST_CONFIG (host config lines), so that one
# binary can be compared with itself under two settings:
#   A_CONFIG="direct_writes: false" Tests/bench/ab.sh .build/release/hyphae .build/release/hyphae cpu
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
A=${1:?usage: ab.sh A_BINARY B_BINARY [SCENARIO] [ROUNDS]}
B=${2:?usage: ab.sh A_BINARY B_BINARY [SCENARIO] [ROUNDS]}
SCENARIO=${3:-cpu}
ROUNDS=${4:-3}
RESULTS="$ROOT/.build/bench-results"
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

field() { grep '^{"bench"' "$1" | tail -1 | sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p"; }

for round in $(seq 1 "$ROUNDS"); do
    for side in A B; do
        binary=$A config=${A_CONFIG:-}
        [[ $side == B ]] && binary=$B config=${B_CONFIG:-}
        HOST_CONFIG="$config" HOST_BIN="$binary" SKIP_BUILD=1 "$ROOT/Tests/bench/run.sh" "$SCENARIO" > /dev/null
        file="$RESULTS/$SCENARIO.txt"
        printf '%s %s %s %s %s %s\n' "$side" "$round" "$(field "$file" host_cpu_us_per_frame)" \
            "$(field "$file" frames_per_second)" "$(field "$file" latency_ms_p99)" "$(field "$file" gaps)" | tee -a "$OUT"
    done
done

awk -v scenario="$SCENARIO" '
function median(list, n,    i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (list[j] < list[i]) { t = list[i]; list[i] = list[j]; list[j] = t }
    return (n % 2) ? list[(n + 1) / 2] : (list[n / 2] + list[n / 2 + 1]) / 2
}
{ n[$1]++; cpu[$1, n[$1]] = $3; fps[$1, n[$1]] = $4; p99[$1, n[$1]] = $5; gaps[$1] += $6 }
END {
    for (s = 0; s < 2; s++) {
        side = (s == 0) ? "A" : "B"
        for (i = 1; i <= n[side]; i++) { c[i] = cpu[side, i]; f[i] = fps[side, i]; l[i] = p99[side, i] }
        mc[side] = median(c, n[side]); mf[side] = median(f, n[side]); ml[side] = median(l, n[side])
        printf "%s: host CPU %.2f us/frame, %.0f frames/s, p99 %.1f ms, gaps %d (medians of %d)\n", side, mc[side], mf[side], ml[side], gaps[side], n[side]
    }
    printf "{\"bench\":\"ab\",\"scenario\":\"%s\",\"a_cpu_us_per_frame\":%.3f,\"b_cpu_us_per_frame\":%.3f,\"ratio\":%.4f}\n", scenario, mc["A"], mc["B"], (mc["A"] > 0 ? mc["B"] / mc["A"] : 0)
}' "$OUT"
