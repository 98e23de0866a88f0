"""A real `hyphae serve` for the tests, started on a free loopback port and stopped after.

The binary is $HYPHAE_BIN, or the debug build of this checkout (`swift build`), which
./test.sh makes before it runs these tests.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[3]


def hyphae_binary() -> str:
    given = os.environ.get("HYPHAE_BIN")
    if given:
        return given
    built = ROOT / ".build" / "debug" / "hyphae"
    if not built.exists():
        pytest.fail(f"no hyphae binary at {built}: run `swift build` (./test.sh does), or set HYPHAE_BIN")
    return str(built)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


TICKER = """
name: ticker
params:
  rate: { type: float, default: 10, min: 0.1, max: 10000 }
source:
  type: ticker
  rate: ${rate}
sinks:
  - type: websocket
    path: /ws/ticker
"""

# The MFN field, seeded, with the compress transform's packing and delta switched by params.
FIELD = """
name: field
params:
  pack: { type: bool, default: true }
  delta: { type: bool, default: true }
sharing: per_subscriber
source:
  type: simulation
  seed: 7
  grid_size: 16
  steps: 40
  include_full_state: true
transforms:
  - type: compress
    pack: ${pack}
    pack_bits: 16
    pack_min_length: 8
    delta: ${delta}
    keyframe_interval: 5
sinks:
  - type: websocket
    path: /ws/field
    queue_size: 1000
"""

# Tickers whose shared instance keeps a history of 5000 frames, and one of 10: what a
# client that comes back finds to resume from (Docs/PROTOCOL.md, Resume).
HISTORY = """
name: {name}
params:
  rate: {{ type: float, default: 50, min: 1, max: 1000 }}
source:
  type: ticker
  rate: ${{rate}}
sinks:
  - type: websocket
    path: /ws/{name}
    backpressure: drop_oldest
    queue_size: 1000
    history: {{ frames: {frames}, seconds: 600 }}
"""


class Host:
    """`hyphae serve` as a child process; `restart()` brings it back on the same port."""

    def __init__(self, folder: Path, arguments: List[str], environment: Dict[str, str]) -> None:
        self.folder = folder
        self.arguments = arguments
        self.environment = {**os.environ, **environment}
        self.port = free_port()
        self.log_path = folder / "serve.log"
        self.process: Optional[subprocess.Popen] = None
        self.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 60) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [hyphae_binary(), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--log-format", "json",
             "--pipelines", str(self.folder / "pipelines")] + self.arguments,
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=self.environment, cwd=str(self.folder),
        )
        deadline = time.monotonic() + timeout
        pattern = re.compile(rf"serving .* on ws://127\.0\.0\.1:{self.port}")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hyphae serve exited with {self.process.returncode}:\n{self.log}")
            if pattern.search(self.log):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"hyphae serve did not listen within {timeout} s:\n{self.log}")

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def restart(self) -> None:
        self.stop()
        # The log is appended to: the next "serving" line is searched from the start,
        # so truncate it first to wait for the new one.
        self.log_path.write_text("")
        self.start()


@pytest.fixture
def make_host() -> Iterator:
    hosts: List[Host] = []
    folders: List[tempfile.TemporaryDirectory] = []

    def make(arguments: Optional[List[str]] = None, environment: Optional[Dict[str, str]] = None) -> Host:
        folder = tempfile.TemporaryDirectory(prefix="hyphae-py-")
        folders.append(folder)
        pipelines = Path(folder.name) / "pipelines"
        pipelines.mkdir()
        (pipelines / "ticker.yaml").write_text(TICKER)
        (pipelines / "field.yaml").write_text(FIELD)
        (pipelines / "resumable.yaml").write_text(HISTORY.format(name="resumable", frames=5000))
        (pipelines / "short_history.yaml").write_text(HISTORY.format(name="short_history", frames=10))
        env = {"MFN_ENV": "dev", "MFN_API_KEY": "", "MFN_API_KEYS": ""}
        env.update(environment or {})
        host = Host(Path(folder.name), arguments or [], env)
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.stop()
    for folder in folders:
        folder.cleanup()
