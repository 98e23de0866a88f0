#!/usr/bin/env bash
# A soak of the release host: 30 minutes of churning connections, pipeline reloads and
# admin writes, with the host's RSS, open files and threads sampled from /proc.
#
#   Tests/soak/run.sh
#
# Builds `hyphae` in release, makes .venv-tests (as ./test.sh does) for the `websockets`
# package, then runs Tests/soak/soak.py, which starts the host over a copy of pipelines/
# and drives it. Prints the figures at the end and exits 1 when the host died, its RSS
# grew by 1 MiB an hour or more after the warm-up, or its open files or threads grew.
# The CSV, its SVG plot, the summary and the host's log go to SOAK_OUT
# (.build/soak-results/<UTC time>/).
#
# Environment: SOAK_SECONDS (1800), SOAK_CLIENTS (1000), SOAK_SLOW_SHARE (0.1),
# SOAK_WARMUP_SECONDS (300, or a sixth of a shorter run), SOAK_SAMPLE_SECONDS (5),
# SOAK_RELOAD_SECONDS (10), SOAK_ADMIN_SECONDS (10), SOAK_MEAN_STAY_SECONDS (60),
# SOAK_MAX_RSS_SLOPE (1.0 MiB/hour), SOAK_FD_SLACK (5), SOAK_SEED (1),
# SKIP_BUILD=1 to use the existing release build, HOST_BIN to soak another binary.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    swift build -c release --product hyphae --manifest-cache none >&2
fi
HOST_BIN=${HOST_BIN:-"$(swift build -c release --show-bin-path)/hyphae"}
[[ -x "$HOST_BIN" ]] || { echo "run.sh: no host binary at $HOST_BIN; run without SKIP_BUILD=1" >&2; exit 1; }

venv=.venv-tests
venv_ready() { "$venv/bin/python" -c 'import websockets' >/dev/null 2>&1; }
if ! venv_ready; then
    command -v python3 >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq python3 >/dev/null; }
    if [[ ! -x "$venv/bin/python" ]]; then
        if ! python3 -m venv "$venv" >/dev/null 2>&1; then
            rm -rf "$venv"
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            python3 -m venv "$venv"
        fi
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check websockets
fi
venv_ready || { echo "run.sh: $venv has no websockets; delete $venv and run again" >&2; exit 1; }

# A thousand sockets on each side, and the host's own.
ulimit -n "$(ulimit -Hn)"

OUT=${SOAK_OUT:-"$ROOT/.build/soak-results/$(date -u +%Y%m%dT%H%M%SZ)"}
exec "$venv/bin/python" Tests/soak/soak.py "$HOST_BIN" "$ROOT" "$OUT"
