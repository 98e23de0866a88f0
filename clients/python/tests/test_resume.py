"""Resume (Docs/PROTOCOL.md, Resume) against real `hyphae serve` processes.

A client's connection goes through a loopback TCP relay that the test cuts the way a
network fails: every connection through it is reset and the port stops listening, so
the client's attempts to come back are refused until the test restores it. A second
client, connected straight to the host, keeps the shared instance (and its history)
running meanwhile and shows how far the stream went.
"""

import asyncio
from typing import Callable, List, Optional

from hyphae_client import Client

from conftest import free_port


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 240))


async def until(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    """Waits for `condition` (no timed assertion: the deadline only ends a stuck test)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class CuttableLink:
    """A TCP relay on a free loopback port to a host's port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.server: Optional[asyncio.AbstractServer] = None
        self.writers: List[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def reset(self) -> None:
        """Drops every connection through the link; new ones are still let through."""
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def restore(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()  # refuse new connections first, then reset the open ones
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.writers += [writer, upstream_writer]

        async def pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
            try:
                while True:
                    data = await source.read(65536)
                    if not data:
                        break
                    target.write(data)
                    await target.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                target.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


async def follow(subscription, last: List[Optional[int]]) -> None:
    async for frame in subscription:
        last[0] = frame.sequence


async def read_until_resumed(subscription, sequences: List[int], epochs: Optional[List[Optional[str]]] = None, live_after: int = 20) -> None:
    """Reads frames into `sequences` until `live_after` frames of the resumed run past its sequence came."""
    async for frame in subscription:
        sequences.append(frame.sequence)
        if epochs is not None:
            epochs.append(frame.epoch)
        resume = subscription.resumes[-1] if subscription.resumes else None
        if resume is not None and resume.sequence is not None and frame.epoch == subscription.epoch and frame.sequence >= resume.sequence + live_after:
            return


async def cut_off_for(stream: str, host, frames_away: int):
    """A subscriber cut off until the keeper saw `frames_away` frames it missed, then let back."""
    link = CuttableLink(host.port)
    await link.restore()
    async with Client(host.url) as keeper_client, Client(link.url, backoff_initial=0.1, backoff_max=0.5) as client:
        keeper = await keeper_client.subscribe(stream, stream_id="keeper")
        keeper_last: List[Optional[int]] = [None]
        following = asyncio.ensure_future(follow(keeper, keeper_last))
        subscription = await client.subscribe(stream, stream_id="resumer")
        sequences: List[int] = []
        async for frame in subscription:
            sequences.append(frame.sequence)
            if len(sequences) == 20:
                break
        await link.cut()
        await until(
            lambda: keeper_last[0] is not None and subscription.last_sequence is not None and keeper_last[0] >= subscription.last_sequence + frames_away,
            f"the keeper to see {frames_away} frames the cut-off client missed",
        )
        await link.restore()
        await read_until_resumed(subscription, sequences)
        following.cancel()
        return sequences, subscription, keeper, client.reconnects


def test_a_client_cut_off_resumes_with_every_frame_once_and_in_order(make_host):
    host = make_host()
    sequences, subscription, keeper, reconnects = run(cut_off_for("resumable", host, 40))
    assert subscription.epoch == keeper.epoch, "one shared instance"
    assert reconnects == 1
    assert len(subscription.resumes) == 1
    resume = subscription.resumes[0]
    assert resume.recovered and subscription.resumed is True
    assert resume.missed is None and not resume.epoch_changed and subscription.missed == 0
    assert resume.since is not None and resume.sequence is not None
    assert resume.sequence - resume.since["sequence"] >= 40, "the host replayed what the client missed"
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences))), f"every sequence once, in order: {sequences}"
    assert sequences[-1] >= resume.sequence + 20, "live frames followed the replay"
    print(f"python resume, history 5000: {resume.sequence - resume.since['sequence']} frames replayed after {resume.since['sequence']}, {len(sequences)} frames in all")


def test_a_client_away_longer_than_the_history_learns_how_many_frames_it_missed(make_host):
    host = make_host()
    sequences, subscription, keeper, reconnects = run(cut_off_for("short_history", host, 40))
    assert subscription.epoch == keeper.epoch
    assert len(subscription.resumes) == 1
    resume = subscription.resumes[0]
    assert resume.recovered is False and subscription.resumed is False and not resume.epoch_changed
    assert resume.since is not None and resume.sequence is not None
    stopped_at = resume.since["sequence"]
    assert resume.missed == resume.sequence - stopped_at, "missed: the host's sequence minus the last one received"
    assert resume.missed >= 40 and subscription.missed == resume.missed
    cut = sequences.index(stopped_at) + 1
    before, after = sequences[:cut], sequences[cut:]
    assert before == list(range(before[0], stopped_at + 1))
    assert after == list(range(resume.sequence + 1, resume.sequence + 1 + len(after))), "live frames from the host's sequence + 1, nothing replayed"
    print(f"python resume, history 10: recovered false, missed {resume.missed} (last received {stopped_at}, host at {resume.sequence})")


def test_a_dropped_connection_goes_back_to_its_own_host_first_and_recovers(make_host):
    first = make_host()
    second = make_host()

    async def scenario():
        link = CuttableLink(first.port)
        await link.restore()
        async with Client(first.url) as keeper_client, Client([link.url, second.url], backoff_initial=0.1, backoff_max=0.5) as client:
            await keeper_client.subscribe("resumable", stream_id="keeper")
            subscription = await client.subscribe("resumable", stream_id="resumer")
            sequences: List[int] = []
            async for frame in subscription:
                sequences.append(frame.sequence)
                if len(sequences) == 20:
                    break
            link.reset()  # the first host stays up
            await read_until_resumed(subscription, sequences)
            return sequences, subscription, link.url

    sequences, subscription, first_url = run(scenario())
    assert len(subscription.resumes) == 1
    resume = subscription.resumes[0]
    assert resume.url == first_url, "back to the host that holds the history"
    assert resume.recovered and not resume.epoch_changed
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences))), f"no gap, no duplicate: {sequences}"


def test_with_several_urls_the_client_moves_to_the_next_host_when_one_shuts_down(make_host):
    first = make_host()
    second = make_host()

    async def scenario():
        async with Client([first.url, second.url], backoff_initial=0.1, backoff_max=0.5) as client:
            subscription = await client.subscribe("resumable", stream_id="mover")
            assert subscription.url == first.url
            epoch_on_first = subscription.epoch
            sequences: List[int] = []
            epochs: List[Optional[str]] = []
            async for frame in subscription:
                sequences.append(frame.sequence)
                epochs.append(frame.epoch)
                if len(sequences) == 20:
                    break
            # SIGTERM: stream_end server_shutdown, then close 1001.
            await asyncio.get_running_loop().run_in_executor(None, first.stop)
            await read_until_resumed(subscription, sequences, epochs)
            moved = (sequences, epochs, subscription, epoch_on_first, client.reconnects, client.url)
        # The first host is down from the start: the client connects to the second.
        async with Client([first.url, second.url]) as late:
            late_subscription = await late.subscribe("resumable")
            async for frame in late_subscription:
                break
            return moved, late.url, late_subscription.url

    (sequences, epochs, subscription, epoch_on_first, reconnects, url), late_url, late_subscription_url = run(scenario())
    assert url == second.url and reconnects == 1
    resume = subscription.resumes[0]
    assert resume.url == second.url
    assert resume.recovered is False and resume.epoch_changed and resume.missed is None, "another run: nothing to replay, no count"
    assert subscription.epoch != epoch_on_first
    assert [notice.payload.get("reason") for notice in subscription.notices] == ["server_shutdown"]
    assert resume.sequence is not None
    start = epochs.index(subscription.epoch)
    assert set(epochs[:start]) == {epoch_on_first} and set(epochs[start:]) == {subscription.epoch}, "each frame names its run"
    before, after = sequences[:start], sequences[start:]
    assert before == list(range(before[0], before[0] + len(before))), "the first host's frames, up to its shutdown"
    assert after == list(range(resume.sequence + 1, resume.sequence + 1 + len(after))), "the second host's stream, from its sequence + 1"
    assert late_url == second.url and late_subscription_url == second.url
    print(f"python failover: {len(before)} frames from the first host, then {len(after)} from the second from sequence {resume.sequence + 1}")
