#!/usr/bin/env python3
"""An example client for the MFN stream protocol v1 (Docs/PROTOCOL.md), built on the
Python client package in clients/python (`pip install ./clients/python`).

The package speaks the conversation (init, auth with the HMAC signature, subscribe,
heartbeats, reconnect with backoff, decoding of the `compress` transform's frames);
this program only chooses what to subscribe to and prints what arrives.

    python3 mfn_client.py ws://127.0.0.1:8080/ws --stream ticker --param rate=5 --frames 10
    MFN_API_KEY=secret python3 mfn_client.py ws://127.0.0.1:8080/ws/ticker --frames 3
    python3 mfn_client.py wss://streams.example.com/ws --stream ticker --frames 3
    python3 mfn_client.py wss://127.0.0.1:8443/ws --ca-file ca.pem --stream ticker --frames 3

Data frames are printed on standard output, one JSON object per line, as they came
over the wire. What the client does and what the server answers goes to standard error.

Exit status: 0 when the frames asked for arrived, or the stream ended normally;
1 when the server refused (auth_failed, subscribe_failed, STREAM_ERROR);
2 for bad command-line arguments; 3 when the connection could not be kept.

Needs Python 3.9+ and the hyphae-client package (which brings `websockets`).
"""

import argparse
import asyncio
import json
import os
import ssl
import sys

from hyphae_client import AuthFailed, Client, ConnectionFailed, StreamError, SubscribeFailed

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_CLOSED = 0, 1, 2, 3


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


async def run(args):
    client = Client(
        args.url,
        api_key=args.api_key,
        sign=not args.no_signature,
        ssl=ssl.create_default_context(cafile=args.ca_file) if args.url.startswith("wss://") else None,
        client_info="mfn_client.py",
        reply_timeout=args.timeout,
        max_reconnect_attempts=5,
    )
    await client.connect()
    try:
        log(f"<- init: {json.dumps(client.server_info)}")
        if client.auth_info:
            log(f"<- auth_success: {json.dumps(client.auth_info)}")
        subscription = await client.subscribe(args.stream, params=dict(args.params), stream_id=args.stream_id)
        log(f"<- subscribe_success: {json.dumps({'params': subscription.params, 'pipeline_version': subscription.pipeline_version})}")

        received = 0
        async for frame in subscription:
            print(json.dumps(frame.message), flush=True)
            received += 1
            if args.frames is not None and received >= args.frames:
                break
        for notice in subscription.notices:
            log(f"<- {notice.type}: {json.dumps(notice.payload)}")
        if subscription.end is None:
            counters = await subscription.unsubscribe()
            log(f"<- unsubscribe: {json.dumps(counters)}")
        if client.reconnects:
            log(f"reconnected {client.reconnects} times")
        return EXIT_OK
    finally:
        await client.close()


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
    except AuthFailed as refusal:
        log(f"refused: auth_failed {refusal}")
        return EXIT_REFUSED
    except SubscribeFailed as refusal:
        log(f"refused: subscribe_failed {refusal}")
        return EXIT_REFUSED
    except StreamError as failure:
        log(f"<- stream_end: the stream failed: {failure}")
        return EXIT_REFUSED
    except ConnectionFailed as failure:
        log(f"connection lost: {failure}")
        return EXIT_CLOSED
    except KeyboardInterrupt:
        return EXIT_CLOSED


if __name__ == "__main__":
    sys.exit(main())
