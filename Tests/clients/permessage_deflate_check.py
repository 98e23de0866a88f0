#!/usr/bin/env python3
"""permessage-deflate (RFC 7692) against a running host, from real clients.

    python3 permessage_deflate_check.py HOST PORT API_KEY

Drives a raw WebSocket client written here (so that it can see RSV1 and the bytes on
the wire), the `websockets` package (which offers permessage-deflate by default) and
the same package with compression off, all on `stream_features`. Checks:

- the handshake answer for a table of offers, malformed ones included;
- a compressing client gets every data frame with RSV1 set, and inflating it on a
  fresh window (no context takeover) gives exactly the text a plain client gets;
  replies and notices come uncompressed;
- a client that offers nothing gets no RSV1 and no extension header;
- a client whose compressed message inflates past the message limit is closed with
  1009, one whose compressed data does not inflate with 1007, RSV1 on a control frame
  with 1002, and the other clients keep receiving meanwhile.

Prints one JSON line of measured sizes on success; exits 1 with the reason otherwise.
"""

import asyncio
import base64
import json
import os
import socket
import struct
import sys
import time
import zlib

import websockets

HOST, PORT, API_KEY = sys.argv[1], int(sys.argv[2]), sys.argv[3]
PATH = "/ws/stream_features"
ANSWER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


class RawClient:
    """A WebSocket client on a plain socket: it sees every header bit."""

    def __init__(self, extensions=None):
        self.sock = socket.create_connection((HOST, PORT), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {PATH} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        )
        if extensions is not None:
            request += f"Sec-WebSocket-Extensions: {extensions}\r\n"
        self.sock.sendall((request + "\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            check(chunk, "the host closed during the handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        check(lines[0].startswith("HTTP/1.1 101"), f"handshake refused: {lines[0]}")
        self.headers = {}
        for line in lines[1:]:
            name, value = line.split(":", 1)
            self.headers.setdefault(name.strip().lower(), []).append(value.strip())

    @property
    def extension_answer(self):
        values = self.headers.get("sec-websocket-extensions", [])
        return ", ".join(values) if values else None

    def _read(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_frame(self):
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read(8))[0]
        check(second & 0x80 == 0, "server frames are never masked")
        check(first & 0x80, "the host sends whole messages")
        return {"rsv1": bool(first & 0x40), "opcode": first & 0x0F, "payload": self._read(length)}

    def send_frame(self, payload, opcode=0x1, rsv1=False, fin=True):
        mask = os.urandom(4)
        header = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_json(self, message):
        self.send_frame(json.dumps(message).encode())

    def message(self):
        """The next message's text, inflated when RSV1 says so; and whether it was."""
        frame = self.read_frame()
        if frame["opcode"] == 0x8:
            code = struct.unpack("!H", frame["payload"][:2])[0] if len(frame["payload"]) >= 2 else None
            raise ConnectionAbortedError(code)
        payload = frame["payload"]
        if frame["rsv1"]:
            # No context takeover: every message inflates on a fresh window.
            payload = zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")
        return json.loads(payload), frame["rsv1"], len(frame["payload"])

    def close_code(self):
        """Reads until the host's close frame; its code."""
        while True:
            try:
                self.message()
            except ConnectionAbortedError as closed:
                return closed.args[0]

    def close(self):
        self.sock.close()


def handshake_table():
    table = [
        (None, None),
        ("permessage-deflate", ANSWER),
        ("permessage-deflate; client_max_window_bits", ANSWER),
        ("permessage-deflate; client_max_window_bits=10; server_no_context_takeover", ANSWER),
        ("permessage-deflate; server_max_window_bits=15", ANSWER + "; server_max_window_bits=15"),
        ('permessage-deflate; server_max_window_bits="15"', ANSWER + "; server_max_window_bits=15"),
        ("Permessage-Deflate; Client_No_Context_Takeover", ANSWER),
        # Terms the host cannot keep for a shared compressed frame: declined, the next offer taken.
        ("permessage-deflate; server_max_window_bits=10", None),
        ("permessage-deflate; server_max_window_bits=10, permessage-deflate", ANSWER),
        # Malformed offers (RFC 7692, 5): declined.
        ("permessage-deflate; server_max_window_bits", None),
        ("permessage-deflate; server_max_window_bits=016", None),
        ("permessage-deflate; client_max_window_bits=7", None),
        ("permessage-deflate; client_max_window_bits=16", None),
        ("permessage-deflate; client_no_context_takeover=1", None),
        ("permessage-deflate; client_no_context_takeover; client_no_context_takeover", None),
        ("permessage-deflate; mystery_parameter", None),
        ('permessage-deflate; client_max_window_bits="1,0"', None),
        ("permessage-deflate;", None),
        ("x-webkit-deflate-frame", None),
        ('foo; bar="a, permessage-deflate", permessage-deflate', ANSWER),
    ]
    for offer, expected in table:
        client = RawClient(offer)
        check(client.extension_answer == expected, f"offer {offer!r}: answered {client.extension_answer!r}, expected {expected!r}")
        client.close()
    return len(table)


def authenticate_and_subscribe(client, stream_id):
    client.send_json({"type": "auth", "payload": {"api_key": API_KEY, "timestamp": int(time.time() * 1000)}})
    client.send_json({"type": "subscribe", "payload": {"stream_id": stream_id, "params": {"update_interval_ms": 20}}})


def data_frames(client, count):
    """`count` data frames (and every reply before them): text by sequence, wire sizes, RSV1 flags."""
    frames, sizes, replies = {}, [], []
    while len(frames) < count:
        message, compressed, size = client.message()
        if message.get("type") in ("auth_success", "subscribe_success", "heartbeat", "init"):
            replies.append((message["type"], compressed))
            continue
        check(message.get("type") == "feature_update", f"unexpected message {message}")
        frames[message["payload"]["sequence"]] = (message, compressed)
        sizes.append(size)
    return frames, sizes, replies


async def websockets_client(stream_id, compression):
    connection = await websockets.connect(f"ws://{HOST}:{PORT}{PATH}", compression=compression, max_size=None)
    await connection.send(json.dumps({"type": "auth", "payload": {"api_key": API_KEY, "timestamp": int(time.time() * 1000)}}))
    await connection.send(json.dumps({"type": "subscribe", "payload": {"stream_id": stream_id, "params": {"update_interval_ms": 20}}}))
    return connection


async def websockets_frames(connection, count):
    frames = {}
    while len(frames) < count:
        message = json.loads(await connection.recv())
        if message.get("type") == "feature_update":
            frames[message["payload"]["sequence"]] = message
    return frames


def raw_auth_first(extensions):
    client = RawClient(extensions)
    client.send_json({"type": "auth", "payload": {"api_key": API_KEY, "timestamp": int(time.time() * 1000)}})
    return client


async def main():
    offers = handshake_table()

    # The same stream under the same stream id, compressed and plain: identical texts.
    compressed_client = RawClient("permessage-deflate; client_max_window_bits")
    plain_client = RawClient(None)
    check(plain_client.extension_answer is None, "no offer, no extension")
    authenticate_and_subscribe(compressed_client, "same")
    authenticate_and_subscribe(plain_client, "same")
    compressed_frames, compressed_sizes, compressed_replies = data_frames(compressed_client, 12)
    plain_frames, plain_sizes, plain_replies = data_frames(plain_client, 12)
    check(all(compressed for _, compressed in compressed_frames.values()), "every data frame to a deflate client has RSV1")
    check(not any(compressed for _, compressed in plain_frames.values()), "no data frame to a plain client has RSV1")
    check(compressed_replies and not any(compressed for _, compressed in compressed_replies), f"replies go uncompressed: {compressed_replies}")
    check(not any(compressed for _, compressed in plain_replies), "replies to a plain client are plain")
    common = sorted(set(compressed_frames) & set(plain_frames))
    check(len(common) >= 6, f"the two clients share too few frames to compare: {sorted(compressed_frames)} {sorted(plain_frames)}")
    for sequence in common:
        check(compressed_frames[sequence][0] == plain_frames[sequence][0], f"frame {sequence} differs between compressed and plain")

    # A different stream id on the same shared compressed frame: spliced in its own stored blocks.
    other_id = "another-id-ü"
    other_client = RawClient("permessage-deflate")
    authenticate_and_subscribe(other_client, other_id)
    other_frames, _, _ = data_frames(other_client, 4)
    for message, compressed in other_frames.values():
        check(compressed and message["stream_id"] == other_id and message["payload"]["stream_id"] == other_id, f"stream id spliced: {message}")

    # The websockets package, which offers deflate by default, and with compression off.
    deflating = await websockets_client("ws-deflate", "deflate")
    answer = deflating.response.headers.get("Sec-WebSocket-Extensions")
    check(answer == ANSWER, f"websockets was answered {answer!r}")
    plain = await websockets_client("ws-plain", None)
    check(plain.response.headers.get("Sec-WebSocket-Extensions") is None, "websockets without compression gets no extension")
    deflating_frames = await websockets_frames(deflating, 6)
    plain_ws_frames = await websockets_frames(plain, 6)
    check(all(m["stream_id"] == "ws-deflate" for m in deflating_frames.values()), "the websockets client decodes its frames")
    check(all(m["stream_id"] == "ws-plain" for m in plain_ws_frames.values()), "the plain websockets client decodes its frames")
    # websockets compresses what it sends too: its pong-free messages went through inflated (it was answered above).
    await deflating.send(json.dumps({"type": "pong", "payload": {}}))

    # A deflate bomb: 10 MB of spaces compress to about 10 KB, far under the 64 KiB
    # frame limit; inflated, far over the message limit. Closed with 1009.
    bomber = await websockets_client("bomber", "deflate")
    await bomber.send(" " * 10_000_000)
    try:
        while True:
            await bomber.recv()
    except websockets.ConnectionClosed as closed:
        check(closed.rcvd is not None and closed.rcvd.code == 1009, f"the bomb closed with {closed.rcvd}")

    # Compressed data that does not inflate: 1007. RSV1 on a control frame: 1002.
    corrupt = raw_auth_first("permessage-deflate")
    corrupt.send_frame(b"\xff\xff\xff\xff\xff", rsv1=True)
    check(corrupt.close_code() == 1007, "corrupt compressed data closes with 1007")
    control = raw_auth_first("permessage-deflate")
    control.send_frame(b"", opcode=0x9, rsv1=True)
    check(control.close_code() == 1002, "RSV1 on a ping closes with 1002")
    # RSV1 without the extension: still 1002.
    unagreed = raw_auth_first(None)
    unagreed.send_frame(zlib.compress(b"{}")[2:-4], rsv1=True)
    check(unagreed.close_code() == 1002, "RSV1 without permessage-deflate closes with 1002")
    # A compressed subscribe, fragmented, from a raw client: inflated and answered.
    fragmented = raw_auth_first("permessage-deflate")
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = compressor.compress(json.dumps({"type": "subscribe", "payload": {"stream_id": "frag", "params": {"update_interval_ms": 20}}}).encode())
    body += compressor.flush(zlib.Z_SYNC_FLUSH)
    body = body[:-4]
    fragmented.send_frame(body[:5], rsv1=True, fin=False)
    fragmented.send_frame(body[5:], opcode=0x0)
    fragment_frames, _, fragment_replies = data_frames(fragmented, 2)
    check(("subscribe_success", False) in fragment_replies, f"a fragmented compressed subscribe is answered: {fragment_replies}")

    # The others kept receiving through all of that.
    later_compressed, _, _ = data_frames(compressed_client, 3)
    later_plain, _, _ = data_frames(plain_client, 3)
    check(min(later_compressed) > max(compressed_frames), "the compressed client still receives")
    check(min(later_plain) > max(plain_frames), "the plain client still receives")
    more = await websockets_frames(deflating, 3)
    check(min(more) > max(deflating_frames), "the websockets client still receives")

    for client in (compressed_client, plain_client, other_client, fragmented):
        client.close()
    await deflating.close()
    await plain.close()
    print(json.dumps({
        "offers_checked": offers,
        "plain_bytes_per_frame": sum(plain_sizes) / len(plain_sizes),
        "compressed_bytes_per_frame": sum(compressed_sizes) / len(compressed_sizes),
    }))


asyncio.run(main())
