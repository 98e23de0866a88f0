#!/usr/bin/env bash
# Builds Hyphae and runs every test: the Swift suites, and through them the NumPy
# cross-check of the MFN engine and the Python example client. The Python modules
# those two need go into a virtual environment of their own, .venv-tests/, made on
# the first run; the system's Python is left as it is.
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

venv_ready() { "$venv/bin/python" -c 'import numpy, websockets' >/dev/null 2>&1; }

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
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check numpy websockets
fi
venv_ready || { echo "test.sh: $venv has no numpy and websockets; delete $venv and run ./test.sh again" >&2; exit 1; }

# The tests run `python3` from the PATH: this one.
PATH="$PWD/$venv/bin:$PATH"
export PATH

swift build --build-tests --manifest-cache none

# The suites are XCTest; the closing line says how many ran and failed.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log" || status=$?
summary=$(grep -E 'Executed [0-9]+ tests?, with [0-9]+ failures?' "$log" | tail -n 1)
executed=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
failed=$(echo "$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')
if [ -n "$summary" ]; then
    echo "$((executed - failed)) passed, $failed failed"
fi
exit "$status"
