#!/usr/bin/env python3
"""Publishes Hyphae ticker frames to an HTTP fan-out (nchan's publisher location) at a
steady rate, for Tests/bench/compare.sh and the bench's raw-mode tests.

Each message is byte for byte what a Hyphae host sends a subscriber of the `ticker`
pipeline under the stream id `bench` (as `hyphae subscribe` prints it), with the
publisher's own sequence (from 0) and timestamp (ms since the epoch, at publish):

  {"type":"tick","stream_id":"bench","timestamp":T,"payload":{"stream_id":"bench",
   "sequence":N,"timestamp":T,"count":N+1,"data":"xxx..."}}

Standard library only; one keep-alive HTTP/1.1 connection; frames are paced on an
absolute schedule (a late frame goes at once, the next keeps its slot).
"""
import argparse
import http.client
import sys
import time
import urllib.parse


def frame(sequence, payload_bytes, stream_id):
    timestamp = "%.4f" % (time.time() * 1000)
    data = ',"data":"%s"' % ("x" * payload_bytes) if payload_bytes > 0 else ""
    return (
        '{"type":"tick","stream_id":"%s","timestamp":%s,"payload":{"stream_id":"%s",'
        '"sequence":%d,"timestamp":%s,"count":%d%s}}'
        % (stream_id, timestamp, stream_id, sequence, timestamp, sequence + 1, data)
    ).encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the publisher URL, e.g. http://127.0.0.1:8080/pub")
    parser.add_argument("--rate", type=float, default=10, help="messages per second (> 0)")
    parser.add_argument("--count", type=int, default=0, help="stop after this many messages (0: until killed)")
    parser.add_argument("--payload-bytes", type=int, default=256, help="the ticker's payload_bytes")
    parser.add_argument("--stream-id", default="bench")
    parser.add_argument("--malformed-every", type=int, default=0,
                        help="every Nth message is not a data frame (tests: the bench must count it as an error)")
    args = parser.parse_args()
    if not args.rate > 0 or args.count < 0 or not 0 <= args.payload_bytes <= 1 << 20 or args.malformed_every < 0:
        parser.error("--rate must be positive, --count not negative, --payload-bytes 0 to 1 MiB")
    url = urllib.parse.urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        parser.error("--url must be an http:// URL")
    path = (url.path or "/") + ("?" + url.query if url.query else "")
    connection = None
    interval = 1.0 / args.rate
    start = time.monotonic()
    sequence = 0
    sent = 0
    while args.count == 0 or sent < args.count:
        delay = start + sent * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if args.malformed_every and (sent + 1) % args.malformed_every == 0:
            body = b'not json: {"sequence": only one of the two fields'
        else:
            body = frame(sequence, args.payload_bytes, args.stream_id)
            sequence += 1
        for attempt in range(50):
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
                connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                if response.status >= 300:
                    sys.exit("publisher.py: %s answered %d %s" % (args.url, response.status, response.reason))
                break
            except (OSError, http.client.HTTPException) as error:
                if connection is not None:
                    connection.close()
                connection = None
                if attempt == 49:
                    sys.exit("publisher.py: cannot publish to %s: %s" % (args.url, error))
                time.sleep(0.1)
        sent += 1


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
