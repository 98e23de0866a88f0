#!/usr/bin/env bash
# Builds Hyphae and runs every test: the Swift suites, and through them the NumPy
# cross-check of the MFN engine and the Python example client.
set -euo pipefail
cd "$(dirname "$0")"

python_ready() { python3 -c 'import numpy, websockets' >/dev/null 2>&1; }

if ! command -v python3 >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3 python3-pip >/dev/null
fi
if ! python_ready; then
    python3 -m pip install --quiet --disable-pip-version-check numpy websockets \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages numpy websockets \
        || { apt-get update -qq && apt-get install -y -qq python3-numpy python3-websockets >/dev/null; }
fi
python_ready || { echo "test.sh: python3 with numpy and websockets is needed for the cross-check tests" >&2; exit 1; }

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
