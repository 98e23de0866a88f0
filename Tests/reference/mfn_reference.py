#!/usr/bin/env python3
"""Independent NumPy reference of the MFN reaction-diffusion engine (Plugins/MFN/Engine).

Two commands:

  check FILE   Replays a run exported by the Swift engine (its parameters, its initial V, a and h, and
               the spike it drew at each step) with this vectorised NumPy code, then compares the final
               fields (max abs difference at most 1e-12) and the features after every step (relative
               1e-9 or absolute 1e-12; active_nodes exactly). Exits 0 when all agree, 1 with a report
               when not, 2 when the file cannot be used. Jitter draws are not exported, so the export
               must have jitter off.

  bench --grid N --steps S
               Times this implementation on its own random field (Turing on, jitter off) and prints JSON
               with microseconds per step and per step plus features.

The update is written from the model's description, not from the Swift code. The one thing shared on
purpose is the order of floating-point operations, so that both sides round alike:
  L(u)  = (((up + down) + left) + right) - 4*u     up = row-1, down = row+1, left = col-1, right = col+1
  V'    = V + alpha*L(V)
  a'    = (a + d_a*L(a)) + r_a*((a*(1-a)) - h)
  h'    = (h + d_h*L(h)) + r_h*(a - h)
  V'   += 0.005 where a' > threshold (before a' is clipped); then a', h' clipped to [0, 1]
  V'    clipped to [-0.095, 0.040]
"""

import argparse
import json
import math
import sys
import time

try:
    import numpy as np
except ImportError:  # pragma: no cover - reported to the caller
    print("mfn_reference.py needs NumPy: install it with `pip install numpy`", file=sys.stderr)
    sys.exit(3)

POTENTIAL_RANGE = (-0.095, 0.040)
TURING_BOOST = 0.005
VALUE_TOLERANCE = 1e-12
FEATURE_RELATIVE_TOLERANCE = 1e-9
FEATURE_ABSOLUTE_TOLERANCE = 1e-12
FEATURE_NAMES = [
    "pot_mean_mV", "pot_std_mV", "pot_min_mV", "pot_max_mV", "active_nodes",
    "activity_ratio", "fractal_dimension", "total_energy", "spatial_variance",
]

DEFAULTS = {
    "grid_size": 64, "alpha": 0.18, "spike_probability": 0.25, "turing_enabled": True,
    "turing_threshold": 0.75, "d_a": 0.1, "d_h": 0.05, "r_a": 0.01, "r_h": 0.02, "jitter_var": None,
    "activity_threshold": {"kind": "above_field_mean", "volts": 0.0005},
}


def laplacian(u):
    up = np.roll(u, 1, axis=0)
    down = np.roll(u, -1, axis=0)
    left = np.roll(u, 1, axis=1)
    right = np.roll(u, -1, axis=1)
    return (((up + down) + left) + right) - 4.0 * u


def advance(v, a, h, p):
    """Steps 2, 3 and 5 of the model (the spike is applied by the caller; jitter is off)."""
    new_v = v + p["alpha"] * laplacian(v)
    if p["turing_enabled"]:
        new_a = (a + p["d_a"] * laplacian(a)) + p["r_a"] * ((a * (1.0 - a)) - h)
        new_h = (h + p["d_h"] * laplacian(h)) + p["r_h"] * (a - h)
        new_v = np.where(new_a > p["turing_threshold"], new_v + TURING_BOOST, new_v)
        a = np.clip(new_a, 0.0, 1.0)
        h = np.clip(new_h, 0.0, 1.0)
    return np.clip(new_v, *POTENTIAL_RANGE), a, h


def box_counting_dimension(mask):
    """Slope of log(count) over log(1/size) for sizes 2, 4, ... <= N/2, edge boxes partial."""
    n = mask.shape[0]
    if not mask.any():
        return 0.0
    logs_inverse_size, logs_count = [], []
    size = 2
    while size * 2 <= n:
        boxes = -(-n // size)
        padded = np.zeros((boxes * size, boxes * size), dtype=bool)
        padded[:n, :n] = mask
        count = int(padded.reshape(boxes, size, boxes, size).any(axis=(1, 3)).sum())
        if count > 0:
            logs_inverse_size.append(math.log(1.0 / size))
            logs_count.append(math.log(count))
        size *= 2
    if len(logs_count) < 2:
        return 0.0
    return float(np.polyfit(logs_inverse_size, logs_count, 1)[0])


def features(v, activity):
    mean = float(v.mean())
    if activity["kind"] == "above_field_mean":
        threshold = mean + activity["volts"]
    elif activity["kind"] == "absolute":
        threshold = activity["volts"]
    else:
        raise ValueError(f"unknown activity threshold kind {activity['kind']!r}")
    mask = v > threshold
    gradient_rows, gradient_columns = np.gradient(v)
    active = int(mask.sum())
    return {
        "pot_mean_mV": mean * 1000.0,
        "pot_std_mV": float(v.std()) * 1000.0,
        "pot_min_mV": float(v.min()) * 1000.0,
        "pot_max_mV": float(v.max()) * 1000.0,
        "active_nodes": active,
        "activity_ratio": active / v.size,
        "fractal_dimension": box_counting_dimension(mask),
        "total_energy": float(np.sum(v * v)),
        "spatial_variance": float(np.mean(gradient_columns ** 2 + gradient_rows ** 2)),
    }


def feature_mismatches(step, expected, actual):
    problems = []
    for name in FEATURE_NAMES:
        if name not in actual:
            problems.append(f"step {step}: {name} missing from the export")
            continue
        mine, theirs = expected[name], actual[name]
        if name == "active_nodes":
            if int(theirs) != mine:
                problems.append(f"step {step}: active_nodes swift {theirs} vs numpy {mine}")
            continue
        difference = abs(mine - theirs)
        if difference > FEATURE_ABSOLUTE_TOLERANCE and difference > FEATURE_RELATIVE_TOLERANCE * abs(mine):
            problems.append(f"step {step}: {name} swift {theirs!r} vs numpy {mine!r} (diff {difference:.3e})")
    return problems


def load_grid(values, n, name):
    array = np.asarray(values, dtype=np.float64)
    if array.size != n * n:
        raise ValueError(f"{name} holds {array.size} values, expected {n * n}")
    return array.reshape(n, n)


def check(path):
    try:
        with open(path, encoding="utf-8") as handle:
            export = json.load(handle)
        p = dict(DEFAULTS, **export["parameters"])
        if p.get("jitter_var") is not None:
            raise ValueError("the export has jitter on; the cross-check needs jitter off (its draws are not exported)")
        n = p["grid_size"]
        v = load_grid(export["initial"]["potentials"], n, "initial potentials")
        a = load_grid(export["initial"]["activator"], n, "initial activator")
        h = load_grid(export["initial"]["inhibitor"], n, "initial inhibitor")
        spikes = export["spikes"]
        swift_features = export["features"]
        final = export["final"]
        if len(swift_features) != len(spikes):
            raise ValueError("the export needs one features entry per step")
    except (OSError, KeyError, TypeError, ValueError) as error:
        print(f"cannot use {path}: {error}", file=sys.stderr)
        return 2

    problems = []
    growth_events = 0
    for index, spike in enumerate(spikes):
        step = index + 1
        if spike is not None:
            growth_events += 1
            row, column = divmod(int(spike["cell"]), n)
            v[row, column] += spike["amountVolts"]
        v, a, h = advance(v, a, h, p)
        problems += feature_mismatches(step, features(v, p["activity_threshold"]), swift_features[index])
        if len(problems) > 20:
            break

    for name, mine in (("potentials", v), ("activator", a), ("inhibitor", h)):
        theirs = load_grid(final[name], n, f"final {name}")
        difference = float(np.max(np.abs(mine - theirs)))
        if not difference <= VALUE_TOLERANCE:
            problems.append(f"final {name}: max abs difference {difference:.3e} > {VALUE_TOLERANCE:g}")
        else:
            print(f"final {name}: max abs difference {difference:.3e}")
    if export.get("growth_events") is not None and export["growth_events"] != growth_events:
        problems.append(f"growth_events swift {export['growth_events']} vs replayed {growth_events}")

    if problems:
        print(f"MFN cross-check FAILED ({len(spikes)} steps, {n}x{n}):", file=sys.stderr)
        for problem in problems[:20]:
            print("  " + problem, file=sys.stderr)
        return 1
    print(f"MFN cross-check passed: {len(spikes)} steps on {n}x{n}, {growth_events} growth events, "
          f"features after every step agree")
    return 0


def bench(grid, steps, seed):
    rng = np.random.default_rng(seed)
    p = dict(DEFAULTS, grid_size=grid)
    v = rng.normal(-0.070, 0.005, (grid, grid))
    a = rng.uniform(0.0, 0.1, (grid, grid))
    h = rng.uniform(0.0, 0.1, (grid, grid))

    def spike(field):
        if rng.random() < p["spike_probability"]:
            row, column = divmod(int(rng.integers(grid * grid)), grid)
            field[row, column] += rng.normal(0.02, 0.005)

    def run(with_features):
        nonlocal v, a, h
        start = time.perf_counter()
        for _ in range(steps):
            spike(v)
            v, a, h = advance(v, a, h, p)
            if with_features:
                features(v, p["activity_threshold"])
        return (time.perf_counter() - start) / steps * 1e6

    run(False)
    step_only = min(run(False) for _ in range(3))
    with_features = min(run(True) for _ in range(3))
    print(json.dumps({
        "implementation": "numpy", "numpy": np.__version__, "grid": grid, "steps": steps,
        "us_per_step": round(step_only, 3), "us_per_step_and_features": round(with_features, 3),
    }))
    return 0


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check_command = commands.add_parser("check", help="replay a Swift export and compare")
    check_command.add_argument("file")
    bench_command = commands.add_parser("bench", help="time this reference")
    bench_command.add_argument("--grid", type=int, default=64)
    bench_command.add_argument("--steps", type=int, default=500)
    bench_command.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args(argv)
    if arguments.command == "check":
        return check(arguments.file)
    if arguments.grid < 4 or arguments.steps < 1:
        parser.error("--grid must be at least 4 and --steps at least 1")
    return bench(arguments.grid, arguments.steps, arguments.seed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
