#!/usr/bin/env python3
"""permessage-deflate on and off: bytes per frame on the wire and host CPU per frame.

    python3 Tests/bench/deflate.py [--hyphae .build/release/hyphae] [--runs 3]

Starts `hyphae serve` on the bundled pipelines, then for each case and each mode
(`plain`: no offer; `deflate`: offers permessage-deflate) connects raw WebSocket
clients that read every frame without inflating it (so that the readers cost the
same in both modes), and reads the host's CPU time from /proc before and after:

- stream_features: CLIENTS (20) on one shared instance, a frame every 10 ms, for
  DURATION (10 s) after WARMUP (2 s). CPU per frame is per frame the pipeline made
  (compressed once, sent to every client).
- simulation_live with include_full_state (64x64): SIM_CLIENTS (4) each on its own
  run (the pipeline is per_subscriber), 300 steps as fast as they go.

Prints one line per case, mode and run, then the medians of the runs as JSON.
"""

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TICKS = os.sysconf("SC_CLK_TCK")


def host_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


class Reader:
    def __init__(self):
        self.frames = 0
        self.bytes = 0
        self.compressed = 0
        self.ended = False


async def client(port, path, subscribe, deflate, reader, stop):
    stream_reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if deflate else ""
    writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n").encode())
    head = await stream_reader.readuntil(b"\r\n\r\n")
    agreed = b"permessage-deflate" in head
    if agreed != deflate:
        raise RuntimeError(f"asked deflate={deflate}, got {head!r}")
    text = json.dumps({"type": "subscribe", "payload": subscribe}).encode()
    mask = os.urandom(4)
    writer.write(bytes([0x81, 0x80 | 126]) + len(text).to_bytes(2, "big") + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text)))
    try:
        while not stop.is_set():
            first, second = await stream_reader.readexactly(2)
            length = second & 0x7F
            header = 2
            if length == 126:
                length = int.from_bytes(await stream_reader.readexactly(2), "big")
                header += 2
            elif length == 127:
                length = int.from_bytes(await stream_reader.readexactly(8), "big")
                header += 8
            payload = await stream_reader.readexactly(length)
            rsv1 = bool(first & 0x40)
            if first & 0x0F == 0x8:
                break
            if rsv1 or b'"sequence"' in payload[:200] and b'"type":"stream_end"' not in payload[:40]:
                reader.frames += 1
                reader.bytes += header + length
                reader.compressed += rsv1
            elif b'"type":"stream_end"' in payload[:40]:
                reader.ended = True
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def measure_features(port, pid, deflate, clients, warmup, duration):
    stop = asyncio.Event()
    readers = [Reader() for _ in range(clients)]
    subscribe = {"stream_id": "bench", "params": {"update_interval_ms": 10}}
    tasks = [asyncio.ensure_future(client(port, "/ws/stream_features", subscribe, deflate, r, stop)) for r in readers]
    await asyncio.sleep(warmup)
    frames0, bytes0, cpu0 = sum(r.frames for r in readers), sum(r.bytes for r in readers), host_cpu_seconds(pid)
    await asyncio.sleep(duration)
    frames1, bytes1, cpu1 = sum(r.frames for r in readers), sum(r.bytes for r in readers), host_cpu_seconds(pid)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    delivered = frames1 - frames0
    produced = delivered / clients
    return {
        "bytes_per_frame": (bytes1 - bytes0) / max(1, delivered),
        "host_cpu_us_per_frame": 1e6 * (cpu1 - cpu0) / max(1, produced),
        "host_cpu_us_per_delivered_frame": 1e6 * (cpu1 - cpu0) / max(1, delivered),
        "frames_per_client_per_second": produced / duration,
        "compressed_share": sum(r.compressed for r in readers) / max(1, sum(r.frames for r in readers)),
    }


async def measure_simulation(port, pid, deflate, clients, steps):
    stop = asyncio.Event()
    readers = [Reader() for _ in range(clients)]
    cpu0 = host_cpu_seconds(pid)
    tasks = []
    for index, r in enumerate(readers):
        subscribe = {"stream_id": f"sim-{index}", "params": {"grid_size": 64, "steps": steps, "include_full_state": True, "seed": 100 + index}}
        tasks.append(asyncio.ensure_future(client(port, "/ws/simulation_live", subscribe, deflate, r, stop)))
    await asyncio.gather(*tasks, return_exceptions=True)
    cpu1 = host_cpu_seconds(pid)
    delivered = sum(r.frames for r in readers)
    return {
        "bytes_per_frame": sum(r.bytes for r in readers) / max(1, delivered),
        "host_cpu_us_per_frame": 1e6 * (cpu1 - cpu0) / max(1, delivered),
        "frames": delivered,
        "compressed_share": sum(r.compressed for r in readers) / max(1, delivered),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hyphae", default=os.path.join(ROOT, ".build/release/hyphae"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=int(os.environ.get("CLIENTS", 20)))
    parser.add_argument("--sim-clients", type=int, default=int(os.environ.get("SIM_CLIENTS", 4)))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=float, default=float(os.environ.get("WARMUP", 2)))
    parser.add_argument("--duration", type=float, default=float(os.environ.get("DURATION", 10)))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        log = open(os.path.join(folder, "host.log"), "w")
        port = 18600 + os.getpid() % 1000
        host = subprocess.Popen([args.hyphae, "serve", "--port", str(port), "--pipelines", os.path.join(ROOT, "pipelines"), "--log-level", "warning"],
                                stdout=log, stderr=log, env={**os.environ, "MFN_ENV": "dev", "MFN_API_KEY": "", "MFN_API_KEYS": ""})
        try:
            time.sleep(1.5)
            results = {}
            for run in range(args.runs):
                for deflate in (False, True):
                    mode = "deflate" if deflate else "plain"
                    features = asyncio.run(measure_features(port, host.pid, deflate, args.clients, args.warmup, args.duration))
                    print(json.dumps({"case": "stream_features", "mode": mode, "run": run, **features}), flush=True)
                    results.setdefault(("stream_features", mode), []).append(features)
                    simulation = asyncio.run(measure_simulation(port, host.pid, deflate, args.sim_clients, args.steps))
                    print(json.dumps({"case": "simulation_live_full_state", "mode": mode, "run": run, **simulation}), flush=True)
                    results.setdefault(("simulation_live_full_state", mode), []).append(simulation)
            for (case, mode), runs in results.items():
                medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
                print(json.dumps({"median_of": len(runs), "case": case, "mode": mode, **medians}))
        finally:
            host.terminate()
            host.wait(15)


if __name__ == "__main__":
    sys.exit(main())
