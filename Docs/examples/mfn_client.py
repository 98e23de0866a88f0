#!/usr/bin/env python3
"""An example client for the MFN stream protocol v1 (Docs/PROTOCOL.md).

It speaks only what the old Python "MFN WebSocket Streaming" server spoke, and
reads Hyphae's additions (stream_end, the init reply's auth_required) when they
are there, so it runs unchanged against either server.

    python3 mfn_client.py ws://127.0.0.1:8080/ws --stream ticker --param rate=5 --frames 10
    MFN_API_KEY=secret python3 mfn_client.py ws://127.0.0.1:8080/ws/ticker --frames 3
    python3 mfn_client.py wss://streams.example.com/ws --stream ticker --frames 3
    python3 mfn_client.py wss://127.0.0.1:8443/ws --ca-file ca.pem --stream ticker --frames 3

Data frames are printed on standard output, one JSON object per line. What the
client does and what the server answers goes to standard error.

Exit status: 0 when the frames asked for arrived, or the stream ended normally;
1 when the server refused (auth_failed, subscribe_failed, an error, STREAM_ERROR);
2 for bad command-line arguments; 3 when the connection closed before the end.

Needs Python 3.9+ and the `websockets` package (versions 12 to 15 and later).
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import ssl
import sys
import time

try:  # websockets 13 and later: the new asyncio implementation.
    from websockets.asyncio.client import connect
except ImportError:  # websockets 12: the legacy implementation.
    from websockets import connect
from websockets.exceptions import ConnectionClosed

PROTOCOL_VERSION = "1.0"

# Message types that are not data frames. Every other type the server sends on a
# subscription (feature_update, simulation_state, tick, ...) is a data frame.
CONTROL_TYPES = {
    "init", "auth_success", "auth_failed", "subscribe_success", "subscribe_failed",
    "unsubscribe", "heartbeat", "error", "stream_end", "stream_reloaded",
}

CLOSE_CODES = {
    1000: "normal closure",
    1001: "the server is shutting down",
    1008: "policy violation (failed auth, auth deadline, or too many invalid messages)",
    1009: "a message was larger than the server accepts",
    1011: "internal server error",
    4000: "heartbeat timeout",
    4008: "slow consumer: the subscription queue overflowed",
}

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_CLOSED = 0, 1, 2, 3


def now_ms():
    """Unix time in milliseconds, as the protocol counts time."""
    return int(time.time() * 1000)


def sign(api_key, timestamp):
    """HMAC-SHA256 of the decimal timestamp, keyed with the API key, as lowercase hex."""
    message = str(int(timestamp)).encode("utf-8")
    return hmac.new(api_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def parse_param(text):
    """name=value; the value is read as JSON when it parses (5, 0.2, true, [1,2]), else as text."""
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected name=value, found {text!r}")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def log(text):
    print(text, file=sys.stderr, flush=True)


class Refused(Exception):
    """The server answered with a refusal; the message says which."""


class Client:
    def __init__(self, websocket):
        self.websocket = websocket
        self.frames = 0

    async def send(self, message_type, payload=None):
        message = {"type": message_type, "timestamp": now_ms()}
        if payload is not None:
            message["payload"] = payload
        await self.websocket.send(json.dumps(message))

    async def receive(self):
        """The next message as a dict. Answers heartbeats on the way."""
        while True:
            text = await self.websocket.recv()
            if isinstance(text, bytes):
                log(f"ignoring a binary message of {len(text)} bytes")
                continue
            try:
                message = json.loads(text)
            except ValueError:
                log(f"ignoring a message that is not JSON: {text[:200]!r}")
                continue
            if not isinstance(message, dict):
                continue
            if message.get("type") == "heartbeat":
                await self.send("pong")
                continue
            return message

    async def expect(self, *types, print_frames=True):
        """Waits for a message of one of `types`; prints data frames that arrive meanwhile."""
        while True:
            message = await self.receive()
            kind = message.get("type")
            if kind in types:
                return message
            if kind == "error":
                payload = message.get("payload") or {}
                raise Refused(f"error {payload.get('error_code')}: {payload.get('message')}")
            if kind not in CONTROL_TYPES:
                if print_frames:
                    self.print_frame(message)
            else:
                log(f"<- {kind}: {json.dumps(message.get('payload'))}")

    def print_frame(self, message):
        print(json.dumps(message), flush=True)
        self.frames += 1


def tls_context(ca_file):
    """For wss://: the system's CAs, or only the certificates in ca_file (a private CA or a self-signed host)."""
    return ssl.create_default_context(cafile=ca_file)


async def run(args):
    options = {}
    if args.url.startswith("wss://"):
        options["ssl"] = tls_context(args.ca_file)
    async with connect(args.url, max_size=16 * 1024 * 1024, open_timeout=args.timeout, **options) as websocket:
        client = Client(websocket)

        # init: optional, but it tells us (on Hyphae) whether auth is required.
        await client.send("init", {"protocol_version": PROTOCOL_VERSION, "client_info": "mfn_client.py"})
        reply = await asyncio.wait_for(client.expect("init"), args.timeout)
        info = reply.get("payload") or {}
        log(f"<- init: {json.dumps(info)}")
        # The old server's init reply has no auth_required: it always wanted an auth step.
        auth_required = info.get("auth_required", True)

        # auth: needed where the server requires it; sent whenever a key is given.
        if args.api_key is not None or auth_required:
            api_key = args.api_key or ""
            timestamp = now_ms()
            payload = {"api_key": api_key, "timestamp": timestamp}
            if not args.no_signature:
                payload["signature"] = sign(api_key, timestamp)
            await client.send("auth", payload)
            reply = await asyncio.wait_for(client.expect("auth_success", "auth_failed"), args.timeout)
            body = reply.get("payload") or {}
            if reply["type"] == "auth_failed":
                raise Refused(f"auth_failed {body.get('error_code')}: {body.get('message')}")
            log(f"<- auth_success: {json.dumps(body)}")

        # subscribe
        payload = {"stream_id": args.stream_id}
        if args.stream:
            payload["stream_type"] = args.stream
        if args.params:
            payload["params"] = dict(args.params)
        await client.send("subscribe", payload)
        reply = await asyncio.wait_for(client.expect("subscribe_success", "subscribe_failed"), args.timeout)
        body = reply.get("payload") or {}
        if reply["type"] == "subscribe_failed":
            raise Refused(f"subscribe_failed {body.get('error_code')}: {body.get('message')}")
        log(f"<- subscribe_success: {json.dumps(body)}")

        # data frames until enough of them, the end of the stream, or a close.
        while args.frames is None or client.frames < args.frames:
            message = await client.receive()
            kind = message.get("type")
            body = message.get("payload") or {}
            if kind == "stream_end":
                log(f"<- stream_end: {json.dumps(body)}")
                await client.send("close")
                return EXIT_REFUSED if body.get("reason") == "error" else EXIT_OK
            if kind == "error":
                log(f"<- error {body.get('error_code')}: {body.get('message')}")
                if body.get("error_code") == "STREAM_ERROR":
                    continue  # stream_end with reason 'error' follows.
                return EXIT_REFUSED
            if kind == "stream_reloaded":
                log(f"<- stream_reloaded: {json.dumps(body)}")
                continue
            if kind in CONTROL_TYPES:
                log(f"<- {kind}: {json.dumps(body)}")
                continue
            client.print_frame(message)
            # The old server's simulation ends with simulation_complete and no stream_end.
            if kind == "simulation_complete" and args.frames is None:
                break

        # Enough frames: end the subscription, read its counters, and close. Frames
        # already on their way are skipped. The old server sent no acknowledgement.
        await client.send("unsubscribe", {"stream_id": args.stream_id})
        try:
            reply = await asyncio.wait_for(client.expect("unsubscribe", print_frames=False), 2.0)
            log(f"<- unsubscribe: {json.dumps(reply.get('payload'))}")
        except (asyncio.TimeoutError, Refused):
            pass
        await client.send("close")
        try:
            await asyncio.wait_for(websocket.wait_closed(), args.timeout)
        except asyncio.TimeoutError:
            pass
        return EXIT_OK


def closed_code(error):
    frame = getattr(error, "rcvd", None)
    return (frame.code, frame.reason) if frame is not None else (None, "")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Subscribe to an MFN stream and print its frames as JSON lines.")
    parser.add_argument("url", help="the WebSocket URL, e.g. ws://127.0.0.1:8080/ws, ws://host:port/ws/stream_features or wss://host/ws")
    parser.add_argument("--stream", help="the stream_type (pipeline name); may be left out on a pipeline's own path")
    parser.add_argument("--param", dest="params", action="append", type=parse_param, default=[],
                        metavar="NAME=VALUE", help="a subscription param (repeatable); values are read as JSON when they parse")
    parser.add_argument("--api-key", default=os.environ.get("MFN_API_KEY") or None,
                        help="the API key (default: $MFN_API_KEY)")
    parser.add_argument("--no-signature", action="store_true", help="authenticate without the HMAC signature")
    parser.add_argument("--stream-id", default="example-1", help="the stream_id to subscribe under (default: example-1)")
    parser.add_argument("--frames", type=int, help="stop after this many data frames (default: until the stream ends)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each reply (default: 10)")
    parser.add_argument("--ca-file", help="for wss://: trust only the certificates in this PEM file (a private CA, or the host's self-signed certificate)")
    args = parser.parse_args(argv)
    if args.frames is not None and args.frames < 1:
        parser.error("--frames must be at least 1")
    if args.ca_file and not args.url.startswith("wss://"):
        parser.error("--ca-file is for wss:// URLs")

    try:
        return asyncio.run(run(args))
    except Refused as refusal:
        log(f"refused: {refusal}")
        return EXIT_REFUSED
    except ConnectionClosed as closed:
        code, reason = closed_code(closed)
        meaning = CLOSE_CODES.get(code, "no close frame" if code is None else "unknown code")
        log(f"connection closed by the server: {code} ({meaning}) {reason}".rstrip())
        return EXIT_CLOSED
    except asyncio.TimeoutError:
        log(f"no reply within {args.timeout} s")
        return EXIT_CLOSED
    except OSError as error:
        log(f"cannot connect to {args.url}: {error}")
        return EXIT_CLOSED
    except KeyboardInterrupt:
        return EXIT_CLOSED


if __name__ == "__main__":
    sys.exit(main())
