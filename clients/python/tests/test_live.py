"""The package against a real `hyphae serve` (see conftest.py)."""

import asyncio
import math

import pytest

from hyphae_client import AuthFailed, Client, ConnectionFailed, SubscribeFailed

KEY = "python-package-key-3e9d"


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 120))


async def take(subscription, count):
    frames = []
    async for frame in subscription:
        frames.append(frame)
        if len(frames) == count:
            break
    return frames


def test_a_signed_client_subscribes_and_iterates_frames(make_host):
    host = make_host(environment={"MFN_API_KEY": KEY, "MFN_SIGNATURE_REQUIRED": "true"})

    async def scenario():
        async with Client(host.url, api_key=KEY) as client:
            assert client.server_info["auth_required"] is True
            subscription = await client.subscribe("ticker", params={"rate": 50}, stream_id="py-live")
            assert subscription.params["rate"] == 50.0
            frames = await take(subscription, 5)
            counters = await subscription.unsubscribe()
        return frames, counters

    frames, counters = run(scenario())
    assert [frame.type for frame in frames] == ["tick"] * 5
    assert all(frame.stream_id == "py-live" and frame.payload["stream_id"] == "py-live" for frame in frames)
    sequences = [frame.sequence for frame in frames]
    assert sequences == list(range(sequences[0], sequences[0] + 5))
    assert counters["packets_sent"] >= 5
    assert '"auth_success"' in host.log


def test_an_unsigned_client_is_refused_where_signatures_are_required_and_a_wrong_key_fails(make_host):
    host = make_host(environment={"MFN_API_KEY": KEY, "MFN_SIGNATURE_REQUIRED": "true"})
    with pytest.raises(AuthFailed) as unsigned:
        run(Client(host.url, api_key=KEY, sign=False).connect())
    assert unsigned.value.code == "AUTH_FAILED"
    with pytest.raises(AuthFailed):
        run(Client(host.url, api_key="not-the-key").connect())
    with pytest.raises(AuthFailed) as missing:
        run(Client(host.url).connect())
    assert missing.value.code == "AUTH_REQUIRED"


def test_a_refused_subscription_raises_with_the_hosts_code(make_host):
    host = make_host()

    async def scenario():
        async with Client(host.url) as client:
            await client.subscribe("ticker", params={"rate": 0})

    with pytest.raises(SubscribeFailed) as refused:
        run(scenario())
    assert refused.value.code == "SUBSCRIBE_ERROR"


def test_heartbeats_are_answered_so_a_quiet_subscriber_is_not_timed_out(make_host):
    # A client that never answered would be closed with 4000 after 0.8 s without a sign of life.
    host = make_host(arguments=["--heartbeat-interval", "0.2", "--heartbeat-timeout", "0.8"])

    async def scenario():
        async with Client(host.url, reconnect=False) as client:
            subscription = await client.subscribe("ticker", params={"rate": 2})
            frames = await take(subscription, 6)  # about 3 s, several timeouts long
            return frames, client.reconnects

    frames, reconnects = run(scenario())
    sequences = [frame.sequence for frame in frames]
    assert sequences == list(range(sequences[0], sequences[0] + 6)), "no frame lost, no reconnect"
    assert reconnects == 0


def test_the_client_reconnects_with_backoff_after_a_host_restart_and_subscribes_again(make_host):
    host = make_host()

    async def scenario():
        async with Client(host.url, backoff_initial=0.2, backoff_max=1.0) as client:
            subscription = await client.subscribe("ticker", params={"rate": 20}, stream_id="survivor")
            before = await take(subscription, 3)
            # The host stops (stream_end server_shutdown, close 1001) and comes back on the same port.
            await asyncio.get_running_loop().run_in_executor(None, host.restart)
            async for frame in subscription:  # frames queued before the stop come first
                if client.reconnects:
                    break
            after = await take(subscription, 3)
            return before, after, client.reconnects, subscription

    before, after, reconnects, subscription = run(scenario())
    assert reconnects == 1
    assert [notice.payload.get("reason") for notice in subscription.notices] == ["server_shutdown"]
    assert subscription.resumed is False, "this host keeps no history: the stream starts afresh"
    assert all(frame.stream_id == "survivor" for frame in after)
    assert after[0].sequence < before[-1].sequence or after[0].sequence == 0, "a new run numbers from 0"


def test_the_client_gives_up_after_its_attempts_when_the_host_stays_away(make_host):
    host = make_host()

    async def scenario():
        async with Client(host.url, backoff_initial=0.05, backoff_max=0.1, max_reconnect_attempts=2) as client:
            subscription = await client.subscribe("ticker", params={"rate": 20})
            await take(subscription, 1)
            await asyncio.get_running_loop().run_in_executor(None, host.stop)
            await take(subscription, 1000)

    with pytest.raises(ConnectionFailed):
        run(scenario())


def test_a_resubscription_sends_since_with_the_epoch_and_last_sequence():
    from hyphae_client.client import Subscription

    subscription = Subscription(Client("ws://unused"), "s1", "ticker", {"rate": 5}, 10)
    assert "since" not in subscription.subscribe_payload(resume=True), "no epoch yet: nothing to resume"
    subscription._accepted({"epoch": "e-1", "sequence": 41, "params": {"rate": 5.0}}, resubscribed=False)
    subscription._frame({"type": "tick", "payload": {"sequence": 42}})
    subscription._frame({"type": "tick", "payload": {"sequence": 43}})
    assert subscription.subscribe_payload(resume=True)["since"] == {"epoch": "e-1", "sequence": 43}
    assert "since" not in subscription.subscribe_payload(resume=False)
    # A new epoch without recovery: the old sequence means nothing there.
    subscription._accepted({"epoch": "e-2", "recovered": False}, resubscribed=True)
    assert subscription.since is None


def test_packed_and_delta_frames_decode_to_the_plain_frames_within_the_packing_error(make_host):
    host = make_host()

    async def collect(client, params, stream_id):
        subscription = await client.subscribe("field", params=params, stream_id=stream_id)
        frames = []
        async for frame in subscription:
            frames.append(frame)
        assert subscription.end["reason"] == "complete"
        return frames

    async def scenario():
        async with Client(host.url) as client:
            return await asyncio.gather(
                collect(client, {"pack": True, "delta": True}, "compressed"),
                collect(client, {"pack": False, "delta": False}, "plain"),
            )

    compressed, plain = run(scenario())
    assert len(plain) == 41 and len(compressed) == 41, "40 states and simulation_complete, every delta rebuilt"
    assert any(frame.message["payload"].get("delta", {}).get("keyframe") is False for frame in compressed), "deltas were sent"
    assert any(isinstance(frame.message["payload"].get("state", {}).get("field"), dict) for frame in compressed), "the field was packed"
    checked = [0]

    def assert_close(decoded, value, where):
        if isinstance(value, dict):
            assert isinstance(decoded, dict) and decoded.keys() == value.keys(), where
            for key in value:
                assert_close(decoded[key], value[key], f"{where}.{key}")
        elif isinstance(value, list) and len(value) >= 8 and all(isinstance(item, (int, float)) for item in value):
            # u16: within half a quantum (scale = span / 65535), plus rounding.
            span = max(value) - min(value)
            assert len(decoded) == len(value), where
            assert all(math.isclose(a, b, abs_tol=span / 65535 / 2 + 1e-12) for a, b in zip(decoded, value)), where
            checked[0] += 1
        else:
            assert decoded == value, where

    for packed_frame, plain_frame in zip(compressed, plain):
        assert packed_frame.type == plain_frame.type and packed_frame.sequence == plain_frame.sequence
        for key, value in plain_frame.payload.items():
            if key not in ("timestamp", "stream_id"):
                assert_close(packed_frame.payload[key], value, f"{key} at {plain_frame.sequence}")
    assert checked[0] >= 40, "every state's field was compared"
