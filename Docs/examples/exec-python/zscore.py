#!/usr/bin/env python3
"""A Hyphae `exec` transform: adds the moving mean and z-score of one feature.

Each frame arrives on standard input as one JSON line; each is answered with
exactly one line on standard output (Docs/EXEC.md). The frame comes back with
two more fields next to the feature, e.g. active_nodes_avg and active_nodes_z:
how far the latest value is from the mean of the last --window values, in
standard deviations. Frames without the feature pass unchanged.

Needs NumPy and nothing else. Diagnostics go to standard error, which the host
writes into its log.
"""
import argparse
import json
import sys

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feature", default="active_nodes", help="the feature in payload.features to score")
    parser.add_argument("--window", type=int, default=50, help="how many of the latest values to compare with")
    args = parser.parse_args()
    if args.window < 2:
        parser.error("--window must be at least 2")

    # The latest values in a ring: the oldest is overwritten, nothing grows.
    ring = np.zeros(args.window)
    filled = 0
    position = 0
    print(f"zscore: {args.feature} over the last {args.window} values", file=sys.stderr)

    for line in sys.stdin:
        frame = json.loads(line)
        features = frame.get("payload", {}).get("features")
        value = features.get(args.feature) if isinstance(features, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ring[position] = value
            position = (position + 1) % args.window
            filled = min(filled + 1, args.window)
            window = ring[:filled]
            mean = float(window.mean())
            spread = float(window.std())
            features[f"{args.feature}_avg"] = round(mean, 6)
            features[f"{args.feature}_z"] = round((value - mean) / spread, 4) if spread > 0 else 0.0
        # One line per frame, flushed at once: the host waits for it.
        sys.stdout.write(json.dumps(frame, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    print("zscore: input closed, exiting", file=sys.stderr)


if __name__ == "__main__":
    main()
