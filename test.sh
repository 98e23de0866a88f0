#!/usr/bin/env bash
# Builds Hyphae and runs every test: the Swift suites, and through them the NumPy
# cross-check of the MFN engine, the Python example client, the permessage-deflate
# checks, the web console in a headless Chromium and the bench against nginx + nchan
# (installed from Debian's packages when missing); the Python client package's tests (pytest, clients/python); then the example
# package that depends on Hyphae (Docs/examples/custom-host): its build, its tests and
# its binary; then a short run of each libFuzzer target (Tests/fuzz). The Python
# modules that the cross-check and the client need go into a virtual environment of
# their own, .venv-tests/, made on the first run (with pytest, and the client package
# installed from clients/python); the system's Python is left as it is.
set -euo pipefail
cd "$(dirname "$0")"

venv=.venv-tests

# Debian's packages, for a machine that lacks python3 or its venv module (run as root).
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "test.sh: $* is missing and there is no apt-get here; install it, then run ./test.sh again" >&2
        exit 1
    fi
    apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
}

venv_ready() { "$venv/bin/python" -c 'import numpy, websockets, pytest' >/dev/null 2>&1; }

# The host's permessage-deflate links the system's zlib (Debian: zlib1g-dev; macOS has it).
if [ "$(uname -s)" = Linux ] && [ ! -f /usr/include/zlib.h ]; then
    apt_install zlib1g-dev
fi

if ! venv_ready; then
    command -v python3 >/dev/null 2>&1 || apt_install python3
    if [ ! -x "$venv/bin/python" ]; then
        # Debian ships the venv module (with pip) apart from python3; a failed attempt leaves a half-made folder.
        if ! python3 -m venv "$venv" >/dev/null 2>&1; then
            rm -rf "$venv"
            apt_install python3-venv
            python3 -m venv "$venv"
        fi
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check numpy websockets pytest
fi
venv_ready || { echo "test.sh: $venv has no numpy, websockets and pytest; delete $venv and run ./test.sh again" >&2; exit 1; }
# The Python client package (clients/python), installed afresh on every run as a user
# installs it, so that the example client and its own tests use this checkout's code.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps ./clients/python

# Debian's Chromium and its WebDriver: the web console's tests drive them (ConsoleBrowserTests).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    apt_install chromium chromium-driver
fi

# The Redis tests (Plugins/Redis, the scale-out tests) start Debian's redis-server on free ports.
command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 || apt_install redis-server

# The bench's raw mode is tested against a real nginx with the nchan module (RawBenchTests,
# Tests/bench/nchan-server.sh), as Tests/bench/compare.sh measures Hyphae against it.
command -v nginx >/dev/null 2>&1 && [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] || apt_install nginx libnginx-mod-nchan

# The tests run `python3` from the PATH: this one.
PATH="$PWD/$venv/bin:$PATH"
export PATH

swift build --build-tests --manifest-cache none

# A package of one's own that depends on this checkout (Docs/examples/custom-host). It
# builds in a scratch folder of its own, so that it shares no build products with the
# one above and sees Hyphae only through its products, as a user's package does.
example=Docs/examples/custom-host
example_build="$PWD/.build/custom-host"
swift build --package-path "$example" --scratch-path "$example_build" --build-tests --manifest-cache none

log=$(mktemp)
example_log=$(mktemp)
trap 'rm -f "$log" "$example_log"' EXIT

# "Executed N tests, with M failures" from XCTest's last summary in a log, as "N M".
xctest_counts() {
    local summary
    summary=$(grep -E 'Executed [0-9]+ tests?, with [0-9]+ failures?' "$1" | tail -n 1)
    [ -n "$summary" ] || { echo "0 0"; return; }
    echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?, with ([0-9]+) failures?.*/\1 \2/'
}

# The suites are XCTest; the closing line says how many ran and failed.
status=0
swift test --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log" || status=$?

# The example: its own tests, then its binary: the built-in stages and its own `scale`
# are listed, and the tests of its pipeline (which uses scale) pass.
example_checks=0
example_failed=0
if ! swift test --package-path "$example" --scratch-path "$example_build" --skip-build --disable-swift-testing 2>&1 | tee "$example_log"; then
    status=1
    # A run that failed without a failed test (it did not start) still counts, once.
    if ! grep -qE 'with [1-9][0-9]* failures?' "$example_log"; then
        example_checks=$((example_checks + 1))
        example_failed=$((example_failed + 1))
    fi
fi
example_bin=$(swift build --package-path "$example" --scratch-path "$example_build" --show-bin-path)
stages=$("$example_bin/my-hyphae" stages) || true
for type in scale ticker simulation moving_average websocket; do
    example_checks=$((example_checks + 1))
    if ! grep -q "^$type (" <<<"$stages"; then
        echo "test.sh: $example_bin/my-hyphae stages does not list '$type'" >&2
        example_failed=$((example_failed + 1))
        status=1
    fi
done
example_checks=$((example_checks + 1))
if ! (cd "$example" && "$example_bin/my-hyphae" test pipelines/); then
    echo "test.sh: the pipeline tests of $example failed (above)" >&2
    example_failed=$((example_failed + 1))
    status=1
fi

# The Python client package's tests, some against a real `hyphae serve` (this build's).
python_log=$(mktemp)
trap 'rm -f "$log" "$example_log" "$python_log"' EXIT
if ! HYPHAE_BIN="$(swift build --show-bin-path)/hyphae" "$venv/bin/python" -m pytest -q -p no:cacheprovider clients/python/tests 2>&1 | tee "$python_log"; then
    status=1
fi
# pytest's closing line: "N passed, M failed, K errors in S s".
python_summary=$(grep -E '[0-9]+ (passed|failed|errors?) in ' "$python_log" | tail -n 1 || true)
python_count() { grep -oE "[0-9]+ $1" <<<"$python_summary" | grep -oE '[0-9]+' || echo 0; }
python_passed=$(python_count passed)
python_failed=$(( $(python_count failed) + $(python_count 'errors?') ))
if [ "$python_passed" -eq 0 ] && [ "$python_failed" -eq 0 ]; then
    python_failed=1  # pytest did not run
fi

# libFuzzer targets (Tests/fuzz, Docs/SECURITY.md): a short run of each from its seed corpus,
# with the address sanitizer, in a build of their own. A crash, a trap, a leak or a broken
# property fails the target's check. New inputs go to a temporary folder, so the committed
# corpus stays as it is; a failing input is kept in .build-fuzz/artifacts/ to reproduce.
fuzz_seconds=${HYPHAE_FUZZ_SECONDS:-20}
fuzz_targets=(FuzzClientMessages FuzzWebSocketFrames FuzzPipelineYAML FuzzCompression)
fuzz_checks=0
fuzz_failed=0
fuzz_work=$(mktemp -d)
trap 'rm -f "$log" "$example_log" "$python_log"; rm -rf "$fuzz_work"' EXIT
fuzz_build() { HYPHAE_FUZZ=1 swift build -c release --scratch-path .build-fuzz --manifest-cache none "$@"; }
fuzz_built=1
for target in "${fuzz_targets[@]}"; do
    fuzz_build --product "$target" || fuzz_built=0
done
if [ "$fuzz_built" = 1 ]; then
    fuzz_bin=$(fuzz_build --show-bin-path)
    mkdir -p .build-fuzz/artifacts
    for target in "${fuzz_targets[@]}"; do
        fuzz_checks=$((fuzz_checks + 1))
        mkdir -p "$fuzz_work/$target"
        # The Swift runtime's backtracer and the address sanitizer trip over each other on a crash.
        if SWIFT_BACKTRACE=enable=no "$fuzz_bin/$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix=".build-fuzz/artifacts/$target-" "$fuzz_work/$target" "Tests/fuzz/corpus/$target" \
            >"$fuzz_work/$target.log" 2>&1; then
            echo "fuzz $target: $(grep -E '^stat::number_of_executed_units' "$fuzz_work/$target.log" | awk '{print $2}') runs in ${fuzz_seconds} s, no crash"
        else
            tail -n 40 "$fuzz_work/$target.log" >&2
            echo "test.sh: fuzz target $target failed (above); the input is in .build-fuzz/artifacts/" >&2
            fuzz_failed=$((fuzz_failed + 1))
            status=1
        fi
    done
else
    echo "test.sh: the fuzz targets did not build (above)" >&2
    fuzz_checks=${#fuzz_targets[@]}
    fuzz_failed=${#fuzz_targets[@]}
    status=1
fi

read -r executed failed <<<"$(xctest_counts "$log")"
read -r example_executed example_xctest_failed <<<"$(xctest_counts "$example_log")"
if [ "$executed" -gt 0 ]; then
    total=$((executed + example_executed + example_checks + python_passed + python_failed + fuzz_checks))
    failures=$((failed + example_xctest_failed + example_failed + python_failed + fuzz_failed))
    echo "$((total - failures)) passed, $failures failed"
fi
exit "$status"
