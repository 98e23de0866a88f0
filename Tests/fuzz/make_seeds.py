#!/usr/bin/env python3
"""Writes the seed corpora in Tests/fuzz/corpus/ from the protocol's real messages and
frames and from pipeline files; run it again after changing a fuzz target's input layout."""
import os, struct, random

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))

def write(target, name, data):
    folder = os.path.join(here, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

# Client messages as PROTOCOL.md shows them, and JSON corners.
messages = {
    "init": '{"type":"init","payload":{"protocol_version":"1.0","client_info":"fuzz/1.0"}}',
    "auth": '{"type":"auth","payload":{"api_key":"k-123","timestamp":1733150000000}}',
    "auth_signed": '{"type":"auth","payload":{"api_key":"k-123","timestamp":1733150000000.5,"signature":"00ff"}}',
    "subscribe": '{"type":"subscribe","payload":{"stream_id":"s1","stream_type":"ticker","params":{"rate":5,"features":["a","b"],"on":true}}}',
    "unsubscribe": '{"type":"unsubscribe","payload":{"stream_id":"s1"}}',
    "pong": '{"type":"pong"}',
    "close": '{ "type" : "close" , "payload" : null }',
    "unknown": '{"type":"subscrbe","payload":{}}',
    "escapes": '{"type":"subscribe","payload":{"stream_id":"\\u00e9\\ud83d\\ude00\\n\\t\\"\\\\\\/","x":"h\u00e9llo \U0001F600"}}',
    "numbers": '[0,-0,1.5e300,-2E-5,123456789012345678901234567890,9223372036854775807,-9223372036854775808,0.1,1e400]',
    "nested": '[[[[{"a":[{"b":{}}]}]]]]',
    "duplicates": '{"type":"pong","type":"close","payload":{"a":1,"a":2}}',
    "literals": ' [true,false,null,"",{}] ',
    # Found by the target: 1e400 was read as infinity and written back as null.
    "crash-number-out-of-range": '[0,-0,1.5e300,-2E-5,123456789012345678901234567890,9223372036854775807,-9223372036854775808,0.1,1e400]',
}
for name, text in messages.items():
    write("FuzzClientMessages", name, text)

# WebSocket frames. The target reads a header to write first (13 bytes: opcode, three
# lengths, a choice, masked, key, filler), then a chunk size, then client bytes.
def client_frame(opcode, payload, fin=True, mask=b"\x37\xfa\x21\x3d", rsv=0, masked=True):
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    n = len(payload)
    bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([bit | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

def frames_seed(header, chunk, *frames):
    return bytes(header) + bytes([chunk]) + b"".join(frames)

subscribe = messages["subscribe"].encode()
headers = [
    [1, 5, 0, 0, 0, 0, 1, 1, 2, 3, 4, 0x41, 0],      # text, length 5, masked
    [3, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0],          # close, length 127 -> 125, unmasked
    [2, 0, 0, 0, 0, 0, 5, 1, 9, 9, 9, 9, 7],          # binary, 65_536, masked
    [0, 0, 1, 0, 0, 0, 6, 1, 0, 0, 0, 0, 0],          # continuation, 65_537 + n
]
write("FuzzWebSocketFrames", "subscribe", frames_seed(headers[0], 64, client_frame(1, subscribe)))
write("FuzzWebSocketFrames", "chunked_ping_pong_close", frames_seed(headers[1], 3,
    client_frame(9, b"hi"), client_frame(10, b""), client_frame(8, struct.pack(">H", 1000) + b"bye")))
write("FuzzWebSocketFrames", "fragments", frames_seed(headers[2], 7,
    client_frame(1, subscribe[:10], fin=False), client_frame(9, b"p"), client_frame(0, subscribe[10:30], fin=False),
    client_frame(0, subscribe[30:], fin=True)))
write("FuzzWebSocketFrames", "unmasked", frames_seed(headers[3], 16, client_frame(1, b'{"type":"pong"}', masked=False)))
write("FuzzWebSocketFrames", "rsv_bit", frames_seed(headers[0], 16, client_frame(1, b'{"type":"pong"}', rsv=0x40)))
write("FuzzWebSocketFrames", "reserved_opcode", frames_seed(headers[1], 5, client_frame(3, b"x"), client_frame(1, b"{}")))
write("FuzzWebSocketFrames", "long_16", frames_seed(headers[2], 64, client_frame(1, b'{"type":"subscribe","payload":{"stream_id":"' + b"a" * 200 + b'"}}')))
write("FuzzWebSocketFrames", "long_64_too_big", frames_seed(headers[0], 64, client_frame(2, b"", masked=True)[:1] + bytes([0x80 | 127]) + struct.pack(">Q", 1 << 40) + b"\0\0\0\0"))
write("FuzzWebSocketFrames", "control_too_long", frames_seed(headers[3], 64, client_frame(9, b"z" * 126)))
write("FuzzWebSocketFrames", "fragmented_control", frames_seed(headers[0], 64, client_frame(9, b"z", fin=False)))
write("FuzzWebSocketFrames", "continuation_first", frames_seed(headers[1], 2, client_frame(0, b"abc")))

# Pipeline files: the repository's own, and some that reach every bundled stage the
# target registers, with params, `${...}` and `${env:...}`; a NUL then the params a
# subscriber sends.
for name in sorted(os.listdir(os.path.join(root, "pipelines"))):
    if name.endswith(".yaml") and not name.endswith(".test.yaml"):
        with open(os.path.join(root, "pipelines", name), "rb") as f:
            write("FuzzPipelineYAML", name, f.read())
ticker_log = """name: fuzz_ticker
description: a ticker into the log, thinned and averaged
params:
  rate: { type: float, default: 10, min: 0.1, max: 1000, description: frames per second }
  window: { type: int, default: 4, min: 1, max: 100 }
  every: { type: int, default: 2, min: 1 }
  level: { type: string, default: info, allowed: [info, debug, notice] }
  tags: { type: list, items: string, default: [a], allowed: [a, b, c] }
sharing: per_subscriber
max_instances: 4
source:
  type: ticker
  rate: ${rate}
  message_type: tick_${env:LABEL:-x}
transforms:
  - type: sample
    every: ${every}
  - type: moving_average
    field: count
    window: ${window}
    output: avg_$${literal}
sinks:
  - type: log
    level: ${level}
"""
write("FuzzPipelineYAML", "ticker_log.yaml", ticker_log)
write("FuzzPipelineYAML", "ticker_log_params", ticker_log + '\0{"rate":2.5,"window":8.0,"every":3,"level":"debug","tags":["b","c"]}')
write("FuzzPipelineYAML", "ticker_log_bad_params", ticker_log + '\0{"rate":"fast","windw":1}')
compress = """name: fuzz_compress
params:
  digits: { type: int, default: 4, min: 1, max: 15 }
  delta: { type: bool, default: true }
  bits: { type: int, default: 16, allowed: [8, 16] }
  tolerance: { type: float, default: 0.001, min: 0, max: 0.5 }
source:
  type: ticker
  rate: ${env:RATE}
  payload_bytes: 16
transforms:
  - type: compress
    precision: true
    significant_digits: ${digits}
    pack: true
    pack_bits: ${bits}
    pack_min_length: 8
    delta: ${delta}
    keyframe_interval: 10
    delta_relative_tolerance: ${tolerance}
  - type: sample
    max_per_second: 2
sinks:
  - type: stdout
"""
write("FuzzPipelineYAML", "compress.yaml", compress)
write("FuzzPipelineYAML", "compress_params", compress + '\0{"digits":15,"delta":"false","bits":8,"tolerance":0}')
write("FuzzPipelineYAML", "anchors_and_errors.yaml", """name: bad name!
params:
  p: &p { type: int, default: 3 }
  q: *p
  r: { type: list, items: float, default: [1, 2.5], min: 0 }
  s: { type: string, default: "${env:NOPE}" }
source: { type: ticker, rate: "${p}", payload_bytes: ${unterminated }
transforms: [ { type: nope }, { type: sample, every: 1, max_per_second: 3 } ]
sinks: []
""")

# compress: a configuration byte and then the frames' choices; random bytes reach every branch.
rng = random.Random(11)
for flags in range(8):
    for n in range(3):
        write("FuzzCompression", f"flags{flags}_{n}", bytes([flags]) + bytes(rng.randrange(256) for _ in range(rng.randrange(20, 400))))
