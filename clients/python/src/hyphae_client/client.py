"""An asyncio client for a Hyphae host: connect, init, auth, subscribe, iterate frames.

The connection is kept: heartbeats are answered, and a dropped connection is opened
again with exponential backoff, authenticated afresh and every live subscription
subscribed again, with `since` (the epoch and the last sequence received) so that a
host that keeps a history resumes the stream without a gap (Docs/PROTOCOL.md, Resume).
Given several URLs (hosts of the same pipelines), it moves on to the next when one
cannot be reached or shuts down.
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import ssl as ssl_module
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Deque, Dict, List, Optional, Sequence, Union

import websockets
from websockets.exceptions import ConnectionClosed

from .auth import auth_payload
from .decoding import Rebuilder

PROTOCOL_VERSION = "1.0"
# Close codes after which opening the connection again cannot help: the host refused this client.
_FINAL_CLOSE_CODES = {1002, 1003, 1007, 1008, 1009}
# The host is going away (after `stream_end` `server_shutdown`): its history goes with it.
_GOING_AWAY = 1001


class HyphaeError(Exception):
    """A refusal from the host, with its `error_code` (Docs/PROTOCOL.md, Error codes)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class AuthFailed(HyphaeError):
    pass


class SubscribeFailed(HyphaeError):
    pass


class StreamError(HyphaeError):
    """The stream ended because a stage failed (`error` STREAM_ERROR, then `stream_end` error)."""


class ConnectionFailed(Exception):
    """The host could not be reached, or closed the connection for good."""

    def __init__(self, message: str, close_code: Optional[int] = None) -> None:
        super().__init__(message)
        self.close_code = close_code


@dataclass(frozen=True)
class Frame:
    """A data frame, its payload decoded (compress deltas rebuilt, packed arrays unpacked)."""

    type: str
    stream_id: str
    sequence: int
    timestamp: float
    payload: Dict[str, Any]
    message: Dict[str, Any] = field(repr=False)
    # The run that sent it (subscribe_success's `epoch`): after a resume on another host
    # or a restarted one, frames of the new run have another epoch and their own sequences.
    epoch: Optional[str] = None


@dataclass(frozen=True)
class Notice:
    """`stream_reloaded` or `stream_end` for a subscription."""

    type: str
    stream_id: str
    payload: Dict[str, Any]


@dataclass(frozen=True)
class Resume:
    """How one resubscription after a lost connection went (`subscription.resumes`).

    `recovered`: the host replays every frame missed, in order, before live ones.
    `missed`: the frames it could not replay, when it knows (same run, history too short);
    None when it cannot know. `epoch_changed`: another run of the pipeline (another host
    with no shared relay, or a restarted one), whose sequences do not continue the old ones.
    """

    url: str
    recovered: bool
    missed: Optional[int]
    epoch_changed: bool
    since: Optional[Dict[str, Any]]
    sequence: Optional[int]


_RESET = object()  # in a subscription's queue: forget the decoder's views here
_ENDED = object()  # in a subscription's queue: no more frames


class Subscription:
    """One subscription: iterate it for its frames (`async for frame in subscription`).

    Iteration ends after `stream_end` (`end` then holds its payload) and raises
    `StreamError` when the stream ended with an error, or `ConnectionFailed` when the
    client gave up reconnecting. Frames wait in a local queue of `queue_size`; when a
    consumer falls that far behind, the oldest are dropped (`dropped_locally`) and the
    decoder sees the gap as a loss, as it would one on the host.
    """

    def __init__(self, client: "Client", stream_id: str, stream_type: Optional[str], params: Dict[str, Any], queue_size: int) -> None:
        self._client = client
        self.stream_id = stream_id
        self.stream_type = stream_type
        self.requested_params = dict(params)
        self.params: Dict[str, Any] = {}
        self.pipeline_version: Optional[str] = None
        self.epoch: Optional[str] = None
        self.last_sequence: Optional[int] = None
        self.notices: List[Notice] = []
        self.end: Optional[Dict[str, Any]] = None
        self.dropped_locally = 0
        self.resumed: Optional[bool] = None
        self.resumes: List[Resume] = []
        self.missed = 0
        self.url: Optional[str] = None
        self._error: Optional[BaseException] = None
        self._queue: Deque[Any] = collections.deque()
        self._queue_size = queue_size
        self._ready = asyncio.Event()
        self._rebuilder = Rebuilder()
        self.is_active = True

    @property
    def since(self) -> Optional[Dict[str, Any]]:
        """What a resubscription sends to resume: the epoch and the last sequence received."""
        if self.epoch is None or self.last_sequence is None:
            return None
        return {"epoch": self.epoch, "sequence": self.last_sequence}

    def subscribe_payload(self, resume: bool) -> Dict[str, Any]:
        payload: Dict[str, Any] = {"stream_id": self.stream_id, "params": self.requested_params}
        if self.stream_type is not None:
            payload["stream_type"] = self.stream_type
        since = self.since if resume else None
        if since is not None:
            payload["since"] = since
        return payload

    def _accepted(self, payload: Dict[str, Any], resubscribed: bool, url: Optional[str] = None) -> None:
        self.params = payload.get("params", self.params) or {}
        self.pipeline_version = payload.get("pipeline_version", self.pipeline_version)
        self.url = url
        recovered = payload.get("recovered") is True
        epoch = payload.get("epoch")
        epoch_changed = isinstance(epoch, str) and self.epoch is not None and epoch != self.epoch
        sequence = payload.get("sequence")
        sequence = sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None
        missed = payload.get("missed")
        missed = missed if isinstance(missed, int) and not isinstance(missed, bool) and missed >= 0 else None
        if resubscribed:
            self.resumed = recovered
            self.resumes.append(Resume(url or "", recovered, missed, epoch_changed, self.since, sequence))
            if not recovered:
                self._push(_RESET)
                self.missed += missed or 0
        if isinstance(epoch, str):
            if not (resubscribed and recovered and not epoch_changed):
                # Live frames follow the host's sequence; a loss before the next frame resumes from there.
                # (-1: before the stream's first frame; `since` may say so, and gets frame 0 on.)
                self.last_sequence = sequence if sequence is not None else (None if epoch_changed else self.last_sequence)
            self.epoch = epoch

    def _frame(self, message: Dict[str, Any]) -> None:
        payload = message.get("payload")
        if isinstance(payload, dict) and isinstance(payload.get("sequence"), int):
            self.last_sequence = payload["sequence"]
        self._push((message, self.epoch))

    def _notice(self, notice: Notice) -> None:
        self.notices.append(notice)
        if notice.type == "stream_reloaded":
            self.params = notice.payload.get("params", self.params)
            self.pipeline_version = notice.payload.get("pipeline_version", self.pipeline_version)
            self._push(_RESET)
        elif notice.type == "stream_end":
            self.end = notice.payload
            if notice.payload.get("reason") == "error" and self._error is None:
                self._error = StreamError("STREAM_ERROR", str(notice.payload.get("message", "the stream failed")))
            self._finish()

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        self._finish()

    def _finish(self) -> None:
        if self.is_active:
            self.is_active = False
            self._queue.append(_ENDED)
            self._ready.set()

    def _push(self, item: Any) -> None:
        if not self.is_active:
            return
        self._queue.append(item)
        while len(self._queue) > self._queue_size:
            dropped = self._queue.popleft()
            if isinstance(dropped, tuple):
                self.dropped_locally += 1
        self._ready.set()

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self

    async def __anext__(self) -> Frame:
        while True:
            while not self._queue:
                self._ready.clear()
                await self._ready.wait()
            item = self._queue.popleft()
            if item is _ENDED:
                self._queue.append(_ENDED)  # iterating again ends again
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            if item is _RESET:
                self._rebuilder.reset()
                continue
            message, epoch = item
            payload = message.get("payload") or {}
            decoded = self._rebuilder.receive(str(message.get("type")), payload)
            if decoded is None:
                continue  # a delta before its keyframe
            return Frame(
                type=str(message.get("type")),
                stream_id=self.stream_id,
                sequence=int(payload.get("sequence", -1)),
                timestamp=float(payload.get("timestamp", message.get("timestamp", 0.0))),
                payload=decoded,
                message=message,
                epoch=epoch,
            )

    async def unsubscribe(self) -> Dict[str, Any]:
        """Ends the subscription; returns the host's counters (`packets_sent`, `dropped_frames`, `duration_s`)."""
        return await self._client._unsubscribe(self)


class Client:
    """A connection to a Hyphae host, kept open until `close()`.

        async with Client("ws://127.0.0.1:8080/ws", api_key=key) as client:
            subscription = await client.subscribe("ticker", params={"rate": 5})
            async for frame in subscription:
                print(frame.sequence, frame.payload)
    """

    def __init__(
        self,
        url: Union[str, Sequence[str]],
        *,
        api_key: Optional[str] = None,
        sign: bool = True,
        ssl: Optional[ssl_module.SSLContext] = None,
        client_info: str = "hyphae-client-python/0.1.0",
        reconnect: bool = True,
        backoff_initial: float = 0.25,
        backoff_max: float = 30.0,
        max_reconnect_attempts: Optional[int] = None,
        reply_timeout: float = 10.0,
        compression: Optional[str] = "deflate",
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.urls: List[str] = [url] if isinstance(url, str) else [str(item) for item in url]
        if not self.urls:
            raise ValueError("give at least one WebSocket URL")
        self._url_index = 0
        self.api_key = api_key
        self.sign = sign
        self.ssl = ssl
        self.client_info = client_info
        self.reconnect = reconnect
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_reconnect_attempts = max_reconnect_attempts
        self.reply_timeout = reply_timeout
        self.compression = compression
        self.max_message_bytes = max_message_bytes
        self.server_info: Dict[str, Any] = {}
        self.auth_info: Dict[str, Any] = {}
        self.reconnects = 0
        self.errors: List[Dict[str, Any]] = []
        self._connection: Any = None
        self._subscriptions: Dict[str, Subscription] = {}
        self._replies: Dict[Any, "asyncio.Future[Dict[str, Any]]"] = {}
        self._reader: Optional["asyncio.Task[None]"] = None
        self._closing = False
        self._counter = 0

    @property
    def url(self) -> str:
        """The URL of the current connection (or of the next attempt)."""
        return self.urls[self._url_index]

    def _move_to_next_url(self) -> None:
        self._url_index = (self._url_index + 1) % len(self.urls)

    async def __aenter__(self) -> "Client":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # Connecting

    async def connect(self) -> None:
        """Opens the connection to the first URL that answers (each is tried once, in turn),
        sends `init` and authenticates when a key is given or needed."""
        for remaining in range(len(self.urls) - 1, -1, -1):
            try:
                await self._open()
                break
            except ConnectionFailed:
                self._move_to_next_url()
                if remaining == 0:
                    raise
        self._reader = asyncio.ensure_future(self._read_forever())

    async def _open(self) -> None:
        options: Dict[str, Any] = {"compression": self.compression, "max_size": self.max_message_bytes, "open_timeout": self.reply_timeout}
        if self.ssl is not None:
            options["ssl"] = self.ssl
        try:
            self._connection = await websockets.connect(self.url, **options)
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as error:
            raise ConnectionFailed(f"cannot connect to {self.url}: {error}") from error
        # Replies are read here, before the reader runs: the conversation is in order.
        init = await self._exchange({"type": "init", "payload": {"protocol_version": PROTOCOL_VERSION, "client_info": self.client_info}}, {"init"})
        self.server_info = init.get("payload") or {}
        if self.api_key is not None:
            reply = await self._exchange({"type": "auth", "payload": auth_payload(self.api_key, signed=self.sign)}, {"auth_success", "auth_failed"})
            payload = reply.get("payload") or {}
            if reply["type"] == "auth_failed":
                await self._connection.close()
                raise AuthFailed(payload.get("error_code", "AUTH_FAILED"), payload.get("message", ""))
            self.auth_info = payload
        elif self.server_info.get("auth_required"):
            await self._connection.close()
            raise AuthFailed("AUTH_REQUIRED", "the host requires an API key; pass api_key=")

    async def _exchange(self, message: Dict[str, Any], answers: set, stream_id: Optional[str] = None) -> Dict[str, Any]:
        """Sends `message` and reads until one of `answers` (about `stream_id`, when given);
        what comes meanwhile (heartbeats, frames of subscriptions already renewed) is handled as usual."""
        await self._connection.send(json.dumps(message))

        async def read() -> Dict[str, Any]:
            while True:
                reply = json.loads(await self._connection.recv())
                if reply.get("type") in answers and (stream_id is None or reply.get("stream_id") == stream_id):
                    return reply
                await self._dispatch(reply)

        try:
            return await asyncio.wait_for(read(), self.reply_timeout)
        except ConnectionClosed as closed:
            raise ConnectionFailed(f"the host closed the connection: {closed}", closed.rcvd.code if closed.rcvd else None) from closed

    # Subscribing

    async def subscribe(
        self, stream_type: Optional[str] = None, params: Optional[Dict[str, Any]] = None, stream_id: Optional[str] = None, queue_size: int = 10_000
    ) -> Subscription:
        """Subscribes; raises `SubscribeFailed` with the host's error code when refused."""
        if stream_id is None:
            self._counter += 1
            stream_id = f"py-{self._counter}"
        if stream_id in self._subscriptions:
            raise ValueError(f"this client already has a subscription '{stream_id}'")
        subscription = Subscription(self, stream_id, stream_type, params or {}, queue_size)
        self._subscriptions[stream_id] = subscription
        try:
            reply = await self._request({"type": "subscribe", "payload": subscription.subscribe_payload(resume=False)}, ("subscribe", stream_id))
        except BaseException:
            self._subscriptions.pop(stream_id, None)
            raise
        if reply["type"] == "subscribe_failed":
            self._subscriptions.pop(stream_id, None)
            payload = reply.get("payload", {})
            raise SubscribeFailed(payload.get("error_code", "SUBSCRIBE_ERROR"), payload.get("message", ""))
        return subscription

    async def _unsubscribe(self, subscription: Subscription) -> Dict[str, Any]:
        reply = await self._request({"type": "unsubscribe", "payload": {"stream_id": subscription.stream_id}}, ("unsubscribe", subscription.stream_id))
        self._subscriptions.pop(subscription.stream_id, None)
        subscription._finish()
        return reply.get("payload", {})

    async def _request(self, message: Dict[str, Any], key: Any) -> Dict[str, Any]:
        future: "asyncio.Future[Dict[str, Any]]" = asyncio.get_running_loop().create_future()
        self._replies[key] = future
        try:
            await self._connection.send(json.dumps(message))
            return await asyncio.wait_for(asyncio.shield(future), self.reply_timeout)
        except ConnectionClosed as closed:
            raise ConnectionFailed(f"the host closed the connection: {closed}", closed.rcvd.code if closed.rcvd else None) from closed
        finally:
            self._replies.pop(key, None)

    async def close(self) -> None:
        """Sends `close` and ends every subscription's iteration."""
        self._closing = True
        if self._connection is not None:
            try:
                await self._connection.send(json.dumps({"type": "close"}))
            except ConnectionClosed:
                pass
            await self._connection.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, self.reply_timeout)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
        for subscription in list(self._subscriptions.values()):
            subscription._finish()

    # Reading

    async def _read_forever(self) -> None:
        while True:
            close_code: Optional[int] = None
            try:
                async for text in self._connection:
                    await self._dispatch(json.loads(text))
            except ConnectionClosed as closed:
                close_code = closed.rcvd.code if closed.rcvd else None
            except json.JSONDecodeError:
                close_code = None
            else:
                close_code = self._connection.close_code if hasattr(self._connection, "close_code") else None
            for future in self._replies.values():
                if not future.done():
                    future.set_exception(ConnectionFailed("the connection closed before the reply", close_code))
            if self._closing:
                return
            if not self.reconnect or close_code in _FINAL_CLOSE_CODES:
                self._fail_all(ConnectionFailed(f"the host closed the connection with {close_code}", close_code))
                return
            if close_code == _GOING_AWAY:
                self._move_to_next_url()
            if not await self._reopen():
                return

    async def _reopen(self) -> bool:
        """Opens the connection again with backoff and subscribes every live subscription again.

        The same URL first (its host holds the history to resume from); each failed attempt
        moves on to the next URL, and the wait grows only once every URL failed in a row."""
        delay = self.backoff_initial
        attempts = 0
        untried = 0  # the first attempt waits: the host that dropped us may come straight back
        while not self._closing:
            attempts += 1
            if self.max_reconnect_attempts is not None and attempts > self.max_reconnect_attempts:
                urls = ", ".join(self.urls)
                self._fail_all(ConnectionFailed(f"gave up reconnecting to {urls} after {attempts - 1} attempts"))
                return False
            if untried > 0:
                untried -= 1
            else:
                # Full jitter: many clients of a restarted host do not come back in step.
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, self.backoff_max)
                untried = len(self.urls) - 1
            try:
                await self._open()
                live = [subscription for subscription in self._subscriptions.values() if subscription.is_active]
                for subscription in live:
                    reply = await self._exchange(
                        {"type": "subscribe", "payload": subscription.subscribe_payload(resume=True)},
                        {"subscribe_success", "subscribe_failed"},
                        subscription.stream_id,
                    )
                    if reply["type"] == "subscribe_failed":
                        payload = reply.get("payload", {})
                        self._subscriptions.pop(subscription.stream_id, None)
                        subscription._fail(SubscribeFailed(payload.get("error_code", "SUBSCRIBE_ERROR"), payload.get("message", "")))
                    else:
                        subscription._accepted(reply.get("payload", {}), resubscribed=True, url=self.url)
            except AuthFailed as refused:
                self._fail_all(refused)
                return False
            except (ConnectionFailed, ConnectionClosed, OSError, asyncio.TimeoutError):
                self._move_to_next_url()
                continue
            self.reconnects += 1
            return True
        return False

    def _fail_all(self, error: BaseException) -> None:
        for subscription in list(self._subscriptions.values()):
            subscription._fail(error)
        self._subscriptions.clear()

    async def _dispatch(self, message: Dict[str, Any]) -> None:
        kind = message.get("type")
        stream_id = message.get("stream_id")
        if kind == "heartbeat":
            await self._connection.send(json.dumps({"type": "pong"}))
            return
        if kind in ("subscribe_success", "subscribe_failed", "unsubscribe"):
            key = ("unsubscribe" if kind == "unsubscribe" else "subscribe", stream_id)
            future = self._replies.get(key)
            if future is not None and not future.done():
                accepted = self._subscriptions.get(stream_id) if kind == "subscribe_success" and isinstance(stream_id, str) else None
                if accepted is not None:
                    # Here, not in subscribe(): the frames that follow may be read before
                    # subscribe() resumes, and they must find the epoch and sequence set.
                    accepted._accepted(message.get("payload") or {}, resubscribed=False, url=self.url)
                future.set_result(message)
            return
        subscription = self._subscriptions.get(stream_id) if isinstance(stream_id, str) else None
        if kind == "error":
            payload = message.get("payload", {})
            if subscription is not None and payload.get("error_code") == "STREAM_ERROR":
                subscription._error = StreamError("STREAM_ERROR", str(payload.get("message", "")))
            else:
                self.errors.append(payload)
            return
        if subscription is None:
            return
        if kind == "stream_end" and self.reconnect and (message.get("payload") or {}).get("reason") == "server_shutdown":
            # The host is restarting: keep the subscription and take it up again on the next connection.
            subscription.notices.append(Notice(kind, stream_id, message.get("payload", {})))
            return
        if kind in ("stream_end", "stream_reloaded"):
            subscription._notice(Notice(kind, stream_id, message.get("payload", {})))
            if kind == "stream_end":
                self._subscriptions.pop(stream_id, None)
            return
        if kind in ("init", "auth_success", "auth_failed"):
            return
        subscription._frame(message)
