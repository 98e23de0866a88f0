#!/usr/bin/env python3
"""A soak of `hyphae serve`: one host, a long run, connections that come and go.

Started by Tests/soak/run.sh, which builds the release host and the Python
environment first. This file starts the host over a copy of the bundled pipelines,
then for SOAK_SECONDS keeps SOAK_CLIENTS WebSocket clients connected, each one
subscribing to bundled pipelines with varied params, staying a random while and
leaving (some with a close frame, some with the protocol's `close`, some after
unsubscribing, some abruptly, without any close). A tenth of them read very slowly
or not at all, so that the backpressure policies and the outbound cap act. Every 10 s
a pipeline file in the host's folder is rewritten (two versions in turn), and every
10 s, between those, the admin API creates, replaces or deletes a pipeline.

Every SOAK_SAMPLE_SECONDS it samples the host's RSS, open files and threads from
/proc/PID into a CSV, and at the end it prints the figures, writes an SVG plot next
to the CSV, and exits 1 when the host died, its RSS grew by SOAK_MAX_RSS_SLOPE MiB
an hour or more after the warm-up, or its open files or threads grew.
"""

import asyncio
import collections
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

try:  # websockets 13 and later: the new asyncio implementation.
    from websockets.asyncio.client import connect
except ImportError:  # websockets 12: the legacy implementation.
    from websockets import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


def env_number(name, default, kind=float):
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        return kind(text)
    except ValueError:
        sys.exit(f"soak: {name}={text!r} is not a number")


DURATION = env_number("SOAK_SECONDS", 1800)
CLIENTS = env_number("SOAK_CLIENTS", 1000, int)
SLOW_SHARE = env_number("SOAK_SLOW_SHARE", 0.10)
SAMPLE_EVERY = env_number("SOAK_SAMPLE_SECONDS", 5)
# The warm-up: 5 minutes, or a sixth of a shorter run, so that a short trial still has a slope.
WARMUP = env_number("SOAK_WARMUP_SECONDS", min(300.0, DURATION / 6))
RELOAD_EVERY = env_number("SOAK_RELOAD_SECONDS", 10)
ADMIN_EVERY = env_number("SOAK_ADMIN_SECONDS", 10)
MEAN_STAY = env_number("SOAK_MEAN_STAY_SECONDS", 60)
MAX_RSS_SLOPE = env_number("SOAK_MAX_RSS_SLOPE", 1.0)
# Open files the idle host may have after the run beyond those it had before it:
# things opened once on first use. A leak per connection would be thousands.
FD_SLACK = env_number("SOAK_FD_SLACK", 5, int)

DATA_TYPES = {"tick", "feature_update", "simulation_state", "simulation_complete"}
FEATURES = ["pot_mean_mV", "pot_std_mV", "pot_min_mV", "pot_max_mV", "active_nodes",
            "activity_ratio", "fractal_dimension", "total_energy", "spatial_variance"]


class Tally:
    """What the load saw, for the summary."""

    def __init__(self):
        self.connections = 0          # upgrades that succeeded
        self.sessions = 0             # sessions that ended, however
        self.frames = 0               # data frames received
        self.messages = 0             # every message received
        self.subscribed = 0
        self.reloaded = 0             # stream_reloaded received
        self.leaves = collections.Counter()   # how clients left
        self.errors = collections.Counter()   # kind -> count
        self.stream_ends = collections.Counter()
        self.open_clients = 0
        self.reloads = collections.Counter()  # file rewrites by result
        self.admin = collections.Counter()    # "PUT 201" -> count


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the host


class Host:
    def __init__(self, binary, root, out_dir):
        self.binary = binary
        self.work = tempfile.mkdtemp(prefix="hyphae-soak-")
        self.pipelines = os.path.join(self.work, "pipelines")
        os.mkdir(self.pipelines)
        for name in os.listdir(os.path.join(root, "pipelines")):
            if name.endswith(".yaml") and not name.endswith(".test.yaml"):
                shutil.copy(os.path.join(root, "pipelines", name), self.pipelines)
        self.key_file = os.path.join(self.work, "admin.key")
        with open(os.open(self.key_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(secrets.token_hex(16) + "\n")
        self.port = free_port()
        self.config = os.path.join(self.work, "host.yaml")
        with open(self.config, "w") as f:
            f.write(f"host: 127.0.0.1\nport: {self.port}\npipelines: {self.pipelines}\n"
                    f"admin_key_file: {self.key_file}\nlog_format: json\nlog_level: warning\n")
        self.log_path = os.path.join(out_dir, "host.log")
        self.process = None

    def start(self):
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen([self.binary, "serve", "--config", self.config],
                                        stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"soak: the host exited at start with status {self.process.returncode}; see {self.log_path}")
            try:
                if self.http("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        sys.exit(f"soak: the host did not answer /health within 30 s; see {self.log_path}")

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def http(self, method, path, body=None, admin=False):
        headers = {"Connection": "close"}
        if admin:
            with open(self.key_file) as f:
                headers["Authorization"] = "Bearer " + f.readline().strip()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    SAMPLED_METRICS = ("hyphae_connections", "hyphae_subscriptions", "hyphae_queued_bytes",
                       "hyphae_heap_trim_seconds_count", "hyphae_heap_trim_seconds_sum",
                       "hyphae_heap_released_bytes_total")

    def metrics(self):
        """The SAMPLED_METRICS from /metrics by name; empty when the host does not answer."""
        try:
            status, body = self.http("GET", "/metrics")
        except OSError:
            return {}
        values = {}
        for line in body.decode("utf-8", "replace").splitlines():
            name, _, value = line.partition(" ")
            if name in self.SAMPLED_METRICS:
                values[name] = float(value)
        return values

    def stop(self):
        """SIGTERM, then the exit status (None if it had to be killed)."""
        if not self.alive():
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None
        finally:
            self.log.close()

    def cleanup(self):
        shutil.rmtree(self.work, ignore_errors=True)


def proc_sample(pid):
    """(rss KiB, open files, threads, CPU seconds) of a process, from /proc."""
    rss = threads = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, fds, threads, cpu


# ---------------------------------------------------------------- pipeline churn

TICKER_B_CHANGES = [
    ("description: A counter at a steady rate, for trying out clients and measuring the host",
     "description: A counter at a steady rate (soak version B)"),
    # Subscribers that chose payload_bytes above 8192 no longer fit: stream_end params_invalid.
    ("max: 16384", "max: 8192"),
    ("default: 10, min: 0.1", "default: 5, min: 0.1"),
    ("backpressure: drop_oldest", "backpressure: compress"),
    ("queue_size: 1000", "queue_size: 200\n    batch_window_ms: 20"),
]
FEATURES_B_CHANGES = [
    ("default: 100, min: 10", "default: 200, min: 10"),
    ("backpressure: drop_oldest", "backpressure: drop_newest"),
    ("queue_size: 1000", "queue_size: 100"),
]


def versions(text, changes):
    changed = text
    for old, new in changes:
        if old not in changed:
            sys.exit(f"soak: the bundled pipeline no longer has {old!r}; update Tests/soak/soak.py")
        changed = changed.replace(old, new, 1)
    return [text, changed]


def write_atomically(path, text):
    temporary = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(temporary, "w") as f:
        f.write(text)
    os.replace(temporary, path)


async def reload_churn(host, tally, stop):
    """Every RELOAD_EVERY seconds, rewrite ticker.yaml or stream_features.yaml, A and B in turn."""
    files = []
    for name, changes in (("ticker.yaml", TICKER_B_CHANGES), ("stream_features.yaml", FEATURES_B_CHANGES)):
        path = os.path.join(host.pipelines, name)
        with open(path) as f:
            files.append((path, versions(f.read(), changes)))
    turn = 0
    while not await wait_or_stop(stop, RELOAD_EVERY):
        path, texts = files[turn % len(files)]
        write_atomically(path, texts[(turn // len(files) + 1) % 2])
        tally.reloads["file rewritten"] += 1
        turn += 1


EXTRA = """name: soak_extra
description: A pipeline the soak creates, replaces and deletes through the admin API ({version})
params:
  rate: {{ type: float, default: 20, min: 1, max: 200 }}
source:
  type: ticker
  rate: ${{rate}}
  payload_bytes: {payload}
sinks:
  - type: websocket
    path: /ws/soak_extra
    backpressure: close
    queue_size: {queue}
"""


async def admin_churn(host, tally, stop):
    """Every ADMIN_EVERY seconds (between file rewrites): create, replace, delete soak_extra, and list."""
    steps = [
        ("PUT", "/admin/pipelines/soak_extra", EXTRA.format(version="A", payload=64, queue=200)),
        ("PUT", "/admin/pipelines/soak_extra", EXTRA.format(version="B", payload=512, queue=50)),
        ("GET", "/admin/pipelines", None),
        ("DELETE", "/admin/pipelines/soak_extra", None),
    ]
    if await wait_or_stop(stop, ADMIN_EVERY / 2):
        return
    turn = 0
    while True:
        method, path, body = steps[turn % len(steps)]
        try:
            status, _ = await asyncio.to_thread(host.http, method, path, body.encode() if body else None, True)
            tally.admin[f"{method} {path.rsplit('/', 1)[-1] if method != 'GET' else path} {status}"] += 1
        except OSError as error:
            tally.errors[f"admin {method}: {type(error).__name__}"] += 1
        turn += 1
        if await wait_or_stop(stop, ADMIN_EVERY):
            return


async def wait_or_stop(stop, seconds):
    """Sleeps; True when the run is over."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
        return True
    except asyncio.TimeoutError:
        return False


# ---------------------------------------------------------------- clients


def normal_subscription(rng, n):
    kind = rng.random()
    if kind < 0.55:
        params = {"rate": rng.choice([0.5, 1, 2, 5, 10]), "payload_bytes": rng.choice([0, 0, 32, 256, 1024])}
        return "ticker", params
    if kind < 0.90:
        params = {"update_interval_ms": rng.choice([250, 500, 1000, 2000]), "compression": rng.random() < 0.5}
        if rng.random() < 0.4:
            params["features"] = sorted(rng.sample(FEATURES, rng.choice([1, 3, 5])))
        return "stream_features", params
    if kind < 0.95:
        params = {"seed": rng.randrange(1000), "grid_size": rng.choice([8, 16, 24]),
                  "steps": rng.choice([20, 50, 100]), "update_interval_steps": rng.choice([1, 2, 5])}
        return "simulation_live", params
    # Exists half the time: UNKNOWN_STREAM otherwise, and pipeline_removed when it goes.
    return "soak_extra", {"rate": rng.choice([1, 5])}


def slow_subscription(rng, n):
    kind = rng.random()
    if kind < 0.6:
        # Big and fast: fills the socket, then the queue (drop_oldest, or compress in version B).
        return "ticker", {"rate": rng.choice([50, 100]), "payload_bytes": rng.choice([4096, 16384])}
    if kind < 0.8:
        return "stream_features", {"update_interval_ms": 10}
    # backpressure: close: 4008 once the queue overflows.
    return "soak_extra", {"rate": 200}


class Client:
    def __init__(self, number, host, tally, stop, rng):
        self.number = number
        self.host = host
        self.tally = tally
        self.stop = stop
        self.rng = rng
        self.slow = rng.random() < SLOW_SHARE
        self.stream_counter = 0

    async def run(self):
        # Spread the first connections over the first 20 s.
        if await wait_or_stop(self.stop, self.rng.uniform(0, 20)):
            return
        while not self.stop.is_set():
            try:
                await self.session()
            except Exception as error:  # a fault of this script: count it, keep the client going
                self.tally.errors[f"load generator fault: {type(error).__name__}: {error}"] += 1
            if await wait_or_stop(self.stop, self.rng.uniform(0.1, 2)):
                return

    def subscription(self):
        pipeline, params = (slow_subscription if self.slow else normal_subscription)(self.rng, self.stream_counter)
        self.stream_counter += 1
        return pipeline, params, f"s{self.stream_counter}"

    async def session(self):
        rng, tally = self.rng, self.tally
        first = self.subscription()
        on_own_path = rng.random() < 0.3 and first[0] != "soak_extra"
        path = f"/ws/{first[0]}" if on_own_path else "/ws"
        try:
            ws = await connect(f"ws://127.0.0.1:{self.host.port}{path}", ping_interval=None,
                               open_timeout=30, close_timeout=5, max_size=None, compression=None)
        except InvalidStatus as error:
            tally.errors[f"upgrade refused: HTTP {error.response.status_code}"] += 1
            return
        except (OSError, asyncio.TimeoutError) as error:
            tally.errors[f"connect failed: {type(error).__name__}"] += 1
            return
        except Exception as error:  # the handshake broke off; count it and go on
            tally.errors[f"connect failed: {type(error).__name__}"] += 1
            return
        tally.connections += 1
        tally.open_clients += 1
        self.streams = {}
        try:
            await self.converse(ws, first, on_own_path)
        finally:
            tally.open_clients -= 1
            tally.sessions += 1

    async def send(self, ws, message):
        await ws.send(json.dumps(message))

    async def subscribe(self, ws, subscription, on_own_path):
        pipeline, params, stream_id = subscription
        payload = {"stream_id": stream_id, "params": params}
        if not on_own_path or self.rng.random() < 0.5:
            payload["stream_type"] = pipeline
        self.streams[stream_id] = pipeline
        await self.send(ws, {"type": "subscribe", "payload": payload})

    async def converse(self, ws, first, on_own_path):
        rng = self.rng
        stay = min(max(rng.expovariate(1 / MEAN_STAY), 2), 5 * MEAN_STAY)
        leave = rng.choices(["close_frame", "close_message", "unsubscribe", "abrupt"], [4, 2, 1, 3])[0]
        server_closed = False
        reader = None
        try:
            if rng.random() < 0.5:
                await self.send(ws, {"type": "init", "payload": {"protocol_version": "1.0", "client_info": "soak"}})
            await self.subscribe(ws, first, on_own_path)
            for _ in range(rng.choice([0, 0, 1, 2])):
                subscription = self.subscription()
                if on_own_path:
                    subscription = (first[0], first[1], subscription[2])
                await self.subscribe(ws, subscription, on_own_path)
            reader = asyncio.ensure_future(self.read(ws, on_own_path, first))
            ending = asyncio.ensure_future(self.stop.wait())
            done, _ = await asyncio.wait({reader, ending}, timeout=stay, return_when=asyncio.FIRST_COMPLETED)
            ending.cancel()
            if reader in done:
                server_closed = True  # the server ended the conversation first
                reader.result()
                return
            await self.leave(ws, leave)
            reader.cancel()
            try:
                await reader
            except (asyncio.CancelledError, ConnectionClosed):
                pass
        except ConnectionClosed:
            server_closed = True
        finally:
            if reader is not None:
                if not reader.done():
                    reader.cancel()
                elif not reader.cancelled():
                    reader.exception()  # retrieved: the connection's end is counted here, not logged by asyncio
            if server_closed:
                code = ws.close_code
                self.tally.leaves["closed by the server"] += 1
                self.tally.errors[f"server closed the connection: {code if code is not None else 'no close frame (1006)'}"] += 1
            if ws.transport is not None and not ws.transport.is_closing():
                ws.transport.abort()

    async def leave(self, ws, how):
        self.tally.leaves[how] += 1
        if how == "abrupt":
            # No close frame, no FIN handshake: the socket goes away (RST).
            sock = ws.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            ws.transport.abort()
            return
        if how == "close_message":
            await self.send(ws, {"type": "close"})
        elif how == "unsubscribe":
            for stream_id in list(self.streams):
                await self.send(ws, {"type": "unsubscribe", "payload": {"stream_id": stream_id}})
        if self.slow:
            # A slow reader's close frame waits behind what it never read: do not wait long.
            try:
                await asyncio.wait_for(ws.close(), 5)
            except asyncio.TimeoutError:
                ws.transport.abort()
        else:
            await ws.close()

    async def read(self, ws, on_own_path, first):
        """Reads until the connection ends. Slow clients read nothing, or one message now and then."""
        tally, rng = self.tally, self.rng
        if self.slow:
            if rng.random() < 0.5:
                await asyncio.Future()  # reads nothing at all, until the session ends it
            pause = rng.uniform(0.5, 3)
        else:
            pause = 0
        async for message in ws:
            tally.messages += 1
            if pause:
                await asyncio.sleep(pause)
            # The server writes "type" first: read it without parsing data frames.
            end = message.find('"', 9)
            kind = message[9:end] if message.startswith('{"type":"') else None
            if kind in DATA_TYPES:
                tally.frames += 1
                continue
            await self.control(ws, kind, message, on_own_path, first)

    async def control(self, ws, kind, message, on_own_path, first):
        tally = self.tally
        if kind is None:
            try:
                kind = json.loads(message).get("type")
            except (ValueError, AttributeError):
                tally.errors["unreadable message from the server"] += 1
                return
            if kind in DATA_TYPES:
                tally.frames += 1
                return
        if kind == "heartbeat":
            await self.send(ws, {"type": "pong"})
            return
        if kind == "stream_reloaded":
            tally.reloaded += 1
            return
        if kind in ("init", "unsubscribe"):
            return
        if kind == "subscribe_success":
            tally.subscribed += 1
            return
        try:
            body = json.loads(message)
        except ValueError:
            tally.errors["unreadable message from the server"] += 1
            return
        payload = body.get("payload") or {}
        if kind == "subscribe_failed":
            tally.errors[f"subscribe_failed {payload.get('error_code')}"
                         + (" (soak_extra absent)" if self.streams.get(body.get("stream_id")) == "soak_extra" else "")] += 1
        elif kind == "stream_end":
            reason = payload.get("reason")
            tally.stream_ends[reason] += 1
            self.streams.pop(body.get("stream_id"), None)
            # A finished simulation is followed by another, a while later.
            if reason == "complete" and self.rng.random() < 0.5:
                await asyncio.sleep(self.rng.uniform(1, 5))
                subscription = self.subscription()
                if on_own_path:
                    subscription = (first[0], first[1], subscription[2])
                await self.subscribe(ws, subscription, on_own_path)
        elif kind == "error":
            tally.errors[f"error {payload.get('error_code')}"] += 1
        else:
            tally.errors[f"unexpected message type {kind}"] += 1


# ---------------------------------------------------------------- sampling


async def sample(host, tally, stop, started, rows, csv_file):
    own = os.getpid()
    while True:
        if not host.alive():
            return
        try:
            rss, fds, threads, cpu = proc_sample(host.process.pid)
        except (FileNotFoundError, ProcessLookupError):
            return
        metrics = await asyncio.to_thread(host.metrics)
        _, _, _, load_cpu = proc_sample(own)

        def metric(name):
            return int(metrics[name]) if name in metrics else ""

        row = [round(time.monotonic() - started, 1), rss, fds, threads, round(cpu, 2),
               metric("hyphae_connections"), metric("hyphae_subscriptions"),
               tally.open_clients, tally.connections, tally.frames, round(load_cpu, 2),
               metric("hyphae_queued_bytes"), metric("hyphae_heap_trim_seconds_count"),
               round(metrics.get("hyphae_heap_trim_seconds_sum", 0), 4), metric("hyphae_heap_released_bytes_total")]
        rows.append(row)
        csv_file.write(",".join(str(v) for v in row) + "\n")
        csv_file.flush()
        if await wait_or_stop(stop, SAMPLE_EVERY):
            return


CSV_HEADER = ["t_s", "rss_kib", "fds", "threads", "host_cpu_s", "host_connections", "host_subscriptions",
              "load_open_clients", "load_connections_made", "load_frames_received", "load_cpu_s",
              "host_queued_bytes", "heap_trims", "heap_trim_seconds", "heap_released_bytes"]


# ---------------------------------------------------------------- figures


def least_squares_slope(xs, ys):
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0


def svg_plot(rows, warmup, path, title):
    """RSS, open files and threads over time, three panels, one SVG; no plotting library."""
    width, left, right, panel, gap, top = 760, 70, 20, 150, 40, 40
    series = [("RSS (MiB)", [r[1] / 1024 for r in rows], "#1f77b4"),
              ("bytes in subscription queues (MiB, hyphae_queued_bytes)",
               [(r[11] or 0) / 1048576 for r in rows], "#9467bd"),
              ("open files", [r[2] for r in rows], "#d62728"),
              ("threads", [r[3] for r in rows], "#2ca02c")]
    times = [r[0] / 60 for r in rows]
    t_max = max(times[-1], 1e-9)
    height = top + len(series) * (panel + gap) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="13">{title}</text>']
    plot_w = width - left - right
    for index, (label, values, colour) in enumerate(series):
        y0 = top + index * (panel + gap)
        low, high = min(values), max(values)
        if high - low < 1e-9:
            low, high = low - 1, high + 1
        pad = (high - low) * 0.1
        low, high = max(0.0, low - pad), high + pad

        def px(t):
            return left + plot_w * t / t_max

        def py(v):
            return y0 + panel - panel * (v - low) / (high - low)

        out.append(f'<rect x="{left}" y="{y0}" width="{plot_w}" height="{panel}" fill="none" stroke="#999"/>')
        if 0 < warmup / 60 < t_max:
            out.append(f'<rect x="{left}" y="{y0}" width="{px(warmup / 60) - left:.1f}" height="{panel}" fill="#eee"/>')
            out.append(f'<text x="{px(warmup / 60) - 4:.1f}" y="{y0 + 12}" text-anchor="end" fill="#777">warm-up</text>')
        for fraction, shift in ((0, -2), (0.5, 4), (1, 10)):
            value = low + (high - low) * fraction
            text = f"{value:.1f}" if label.startswith("RSS") or high - low < 5 else f"{value:.0f}"
            out.append(f'<text x="{left - 6}" y="{py(value) + shift:.1f}" text-anchor="end">{text}</text>')
        out.append(f'<text x="{left}" y="{y0 - 6}" font-weight="bold">{label}</text>')
        points = " ".join(f"{px(t):.1f},{py(v):.1f}" for t, v in zip(times, values))
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.2"/>')
        if label.startswith("RSS"):
            # The least-squares line the verdict is drawn from, over the samples after the warm-up.
            fit = [(t, v) for t, v in zip(times, values) if t * 60 >= warmup]
            if len(fit) >= 2:
                slope = least_squares_slope([t for t, _ in fit], [v for _, v in fit])
                mean_t = sum(t for t, _ in fit) / len(fit)
                mean_v = sum(v for _, v in fit) / len(fit)
                (t1, _), (t2, _) = fit[0], fit[-1]
                out.append(f'<line x1="{px(t1):.1f}" y1="{py(mean_v + slope * (t1 - mean_t)):.1f}" '
                           f'x2="{px(t2):.1f}" y2="{py(mean_v + slope * (t2 - mean_t)):.1f}" '
                           f'stroke="black" stroke-dasharray="5,4"/>')
                out.append(f'<text x="{left + plot_w - 4}" y="{y0 + panel - 6}" text-anchor="end">'
                           f'after the warm-up: {slope * 60:+.2f} MiB/hour (dashed: least squares)</text>')
        step = max(1, round(t_max / 6))
        minute = 0
        while minute <= t_max + 1e-9:
            out.append(f'<text x="{px(minute):.1f}" y="{y0 + panel + 14}" text-anchor="middle">{minute:g} min</text>')
            minute += step
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def host_log_events(path):
    """Counts of the host's log records by level and event (the log is at warning and above)."""
    counts = collections.Counter()
    other = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                try:
                    record = json.loads(line)
                    counts[f"{record.get('level')} {record.get('event', record.get('message'))}"] += 1
                except ValueError:
                    if line.strip():
                        other.append(line.rstrip())
    except FileNotFoundError:
        pass
    return counts, other


# ---------------------------------------------------------------- the run


async def idle_sample(host, settle):
    """Waits for the host to hold no connection (up to `settle` s), then samples it twice a second apart."""
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        metrics = await asyncio.to_thread(host.metrics)
        if metrics.get("hyphae_connections") == 0:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(1)
    return proc_sample(host.process.pid)


async def run(binary, root, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    host = Host(binary, root, out_dir)
    host.start()
    tally = Tally()
    stop = asyncio.Event()
    try:
        before = await idle_sample(host, 0)
        csv_path = os.path.join(out_dir, "soak.csv")
        rows = []
        started = time.monotonic()
        with open(csv_path, "w") as csv_file:
            csv_file.write(",".join(CSV_HEADER) + "\n")
            sampler = asyncio.ensure_future(sample(host, tally, stop, started, rows, csv_file))
            rng = random.Random(int(os.environ.get("SOAK_SEED", "1")))
            clients = [Client(n, host, tally, stop, random.Random(rng.getrandbits(64))) for n in range(CLIENTS)]
            tasks = [asyncio.ensure_future(c.run()) for c in clients]
            tasks.append(asyncio.ensure_future(reload_churn(host, tally, stop)))
            tasks.append(asyncio.ensure_future(admin_churn(host, tally, stop)))
            next_report = started + 60
            while time.monotonic() - started < DURATION and host.alive():
                await asyncio.sleep(1)
                if time.monotonic() >= next_report:
                    next_report += 60
                    last = rows[-1] if rows else None
                    print(f"soak: {int(time.monotonic() - started)} s, {tally.open_clients} clients open, "
                          f"{tally.connections} connections made, {tally.frames} frames"
                          + (f", host RSS {last[1] / 1024:.1f} MiB, {last[2]} files, {last[3]} threads" if last else ""),
                          file=sys.stderr, flush=True)
            died = not host.alive()
            stop.set()
            await asyncio.wait(tasks, timeout=60)
            await sampler
        after = None if died or not host.alive() else await idle_sample(host, 30)
        died = died or not host.alive()
        exit_status = host.stop()
    finally:
        if host.alive():
            host.stop()
        host.cleanup()
    return summarize(tally, rows, before, after, died, exit_status, csv_path, out_dir, host)


def summarize(tally, rows, before, after, died, exit_status, csv_path, out_dir, host):
    measured = [r for r in rows if r[0] >= WARMUP] or rows
    hours = [r[0] / 3600 for r in measured]
    rss_mib = [r[1] / 1024 for r in measured]
    slope = least_squares_slope(hours, rss_mib)
    fds = [r[2] for r in measured]
    threads = [r[3] for r in measured]
    half = len(threads) // 2
    threads_grew = half > 0 and max(threads[half:]) > max(threads[:half])
    fds_grew = after is not None and after[1] > before[1] + FD_SLACK
    threads_grew = threads_grew or (after is not None and after[2] > max(threads))
    duration = rows[-1][0] if rows else 0
    host_cpu = (rows[-1][4] - rows[0][4]) if len(rows) > 1 else 0
    load_cpu = (rows[-1][10] - rows[0][10]) if len(rows) > 1 else 0
    svg_path = os.path.splitext(csv_path)[0] + ".svg"
    if rows:
        svg_plot(rows, WARMUP, svg_path,
                 f"hyphae serve, {duration / 60:.0f} min soak: {CLIENTS} churning clients, reload every "
                 f"{RELOAD_EVERY:g} s, admin writes every {ADMIN_EVERY:g} s")
    log_counts, log_other = host_log_events(host.log_path)

    lines = [
        f"soak: {duration:.0f} s ({duration / 60:.1f} min), {CLIENTS} clients ({SLOW_SHARE:.0%} slow readers), "
        f"mean stay {MEAN_STAY:g} s, warm-up {WARMUP:g} s, a sample every {SAMPLE_EVERY:g} s ({len(rows)} samples)",
        f"host: {'DIED' if died else 'stayed up'} (crashes: {1 if died else 0}); exit status on SIGTERM: {exit_status}",
    ]
    if measured:
        lines += [
            f"RSS after warm-up: {rss_mib[0]:.1f} MiB at {measured[0][0]:.0f} s, {rss_mib[-1]:.1f} MiB at the end "
            f"(min {min(rss_mib):.1f}, max {max(rss_mib):.1f}); slope {slope:+.2f} MiB/hour (least squares, limit {MAX_RSS_SLOPE:g})",
            f"open files after warm-up: min {min(fds)}, max {max(fds)}; threads: min {min(threads)}, max {max(threads)}",
        ]
        queued = [r[11] / 1048576 for r in measured if r[11] != ""]
        if queued:
            lines.append(f"bytes in subscription queues after warm-up: min {min(queued):.1f} MiB, "
                         f"max {max(queued):.1f} MiB, mean {sum(queued) / len(queued):.1f} MiB")
    trimmed = [r for r in rows if r[12] != ""]
    if len(trimmed) > 1 and trimmed[-1][12]:
        count = trimmed[-1][12]
        lines.append(f"heap trims: {count}, {1000 * trimmed[-1][13] / count:.2f} ms each on average, "
                     f"{trimmed[-1][14] / 1048576:.0f} MiB handed back to the kernel in all")
    lines.append(f"idle host before the load: {before[0] / 1024:.1f} MiB, {before[1]} files, {before[2]} threads")
    if after is not None:
        lines.append(f"idle host after the load:  {after[0] / 1024:.1f} MiB, {after[1]} files, {after[2]} threads")
    lines += [
        f"connections made: {tally.connections} ({tally.connections / max(duration, 1):.1f}/s), sessions ended: {tally.sessions}; "
        f"subscriptions: {tally.subscribed}; frames received: {tally.frames} ({tally.frames / max(duration, 1):.0f}/s); "
        f"stream_reloaded: {tally.reloaded}",
        f"how clients left: {dict(sorted(tally.leaves.items()))}",
        f"stream_end by reason: {dict(sorted(tally.stream_ends.items(), key=str))}",
        f"pipeline file rewrites: {sum(tally.reloads.values())}; admin requests: {dict(sorted(tally.admin.items()))}",
        f"CPU over the run: host {host_cpu:.0f} s ({100 * host_cpu / max(duration, 1):.0f} % of a core), "
        f"load generator {load_cpu:.0f} s ({100 * load_cpu / max(duration, 1):.0f} % of a core)",
        "errors by kind:" + ("" if tally.errors else " none"),
    ]
    lines += [f"  {count:7d}  {kind}" for kind, count in sorted(tally.errors.items(), key=lambda kv: -kv[1])]
    lines.append("host log (warning and above) by level and event:" + ("" if log_counts else " none"))
    lines += [f"  {count:7d}  {kind}" for kind, count in sorted(log_counts.items(), key=lambda kv: -kv[1])]
    if log_other:
        lines.append("host output that is not a log record (last 20 lines):")
        lines += ["  " + line for line in log_other[-20:]]
    failures = []
    if died:
        failures.append("the host died")
    if slope >= MAX_RSS_SLOPE:
        failures.append(f"RSS grew {slope:.2f} MiB/hour after the warm-up (limit {MAX_RSS_SLOPE:g})")
    if fds_grew:
        failures.append(f"open files grew: {before[1]} before the load, {after[1]} after it")
    if threads_grew:
        failures.append("threads grew after the warm-up")
    if exit_status not in (0, None) and not died:
        failures.append(f"the host exited with status {exit_status} on SIGTERM")
    lines.append("result: " + ("FAIL: " + "; ".join(failures) if failures else "PASS"))
    lines.append(f"files: {csv_path}, {svg_path}, {host.log_path}")
    report = "\n".join(lines)
    print(report)
    with open(os.path.join(out_dir, "summary.txt"), "w") as f:
        f.write(report + "\n")
    return 1 if failures else 0


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: soak.py HYPHAE_BINARY REPOSITORY_ROOT OUTPUT_DIR")
    sys.exit(asyncio.run(run(*sys.argv[1:])))


if __name__ == "__main__":
    main()
