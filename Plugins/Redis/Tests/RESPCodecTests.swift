import NIOCore
import NIOEmbedded
import Redis
import XCTest

final class RESPCodecTests: XCTestCase {
    private func decodeAll(_ text: String, limits: RESPLimits = .standard) throws -> [RESPValue] {
        var buffer = ByteBuffer(string: text)
        var values: [RESPValue] = []
        while let value = try RESPDecoder.decode(from: &buffer, limits: limits) {
            values.append(value)
        }
        XCTAssertEqual(buffer.readableBytes, 0, "every byte of whole replies is consumed")
        return values
    }

    private func error(_ text: String, limits: RESPLimits = .standard) -> String? {
        var buffer = ByteBuffer(string: text)
        do {
            _ = try RESPDecoder.decode(from: &buffer, limits: limits)
            return nil
        } catch {
            return error.description
        }
    }

    func testEveryKindOfReply() throws {
        let values = try decodeAll("+OK\r\n-ERR wrong\r\n:42\r\n:-7\r\n$5\r\nhe\r\no\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n")
        XCTAssertEqual(values, [
            .simpleString("OK"), .error("ERR wrong"), .integer(42), .integer(-7),
            .bulkString(Array("he\r\no".utf8)), .bulkString([]), .bulkString(nil), .array(nil), .array([]),
            .array([.bulkString([UInt8(ascii: "a")]), .array([.integer(1)])]),
        ])
    }

    /// A reply split anywhere waits for the rest and leaves the buffer as it was.
    func testAReplySplitAtEveryByteWaitsForItsEnd() throws {
        let whole = "*2\r\n$5\r\nhello\r\n*1\r\n:12\r\n"
        let expected = RESPValue.array([.bulkString(Array("hello".utf8)), .array([.integer(12)])])
        for cut in 0..<whole.utf8.count {
            var buffer = ByteBuffer(bytes: Array(whole.utf8.prefix(cut)))
            XCTAssertNil(try RESPDecoder.decode(from: &buffer, limits: .standard), "cut at \(cut)")
            XCTAssertEqual(buffer.readerIndex, 0)
            buffer.writeBytes(Array(whole.utf8.dropFirst(cut)))
            XCTAssertEqual(try RESPDecoder.decode(from: &buffer, limits: .standard), expected, "cut at \(cut)")
        }
    }

    /// Through a channel, one byte a read, as the network may deliver it.
    func testTheDecoderInAChannelReadByByte() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RESPDecoder()))
        for byte in "+PONG\r\n:5\r\n".utf8 {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
        }
        XCTAssertEqual(try channel.readInbound(as: RESPValue.self), .simpleString("PONG"))
        XCTAssertEqual(try channel.readInbound(as: RESPValue.self), .integer(5))
        XCTAssertNil(try channel.readInbound(as: RESPValue.self))
        _ = try channel.finish()
    }

    func testBadInputGetsAClearError() {
        XCTAssertEqual(error("?what\r\n"), "invalid reply from the Redis server: a reply starting with byte 63, not one of + - : $ *")
        XCTAssertEqual(error(":12a\r\n"), "invalid reply from the Redis server: integer '12a' is not an integer")
        XCTAssertEqual(error("$-2\r\n"), "invalid reply from the Redis server: a bulk string length of -2 (allowed: -1 to 16777216)")
        XCTAssertEqual(error("$3\r\nabcd\r\n"), "invalid reply from the Redis server: a bulk string of 3 bytes not followed by CRLF")
        XCTAssertEqual(error("+OK\rX"), "invalid reply from the Redis server: a carriage return not followed by a line feed")
        XCTAssertEqual(error("*-5\r\n"), "invalid reply from the Redis server: an array of -5 elements (allowed: -1 to 100000)")
        XCTAssertEqual(error(":99999999999999999999999\r\n"), "invalid reply from the Redis server: integer '99999999999999999999999' is not an integer")
    }

    func testLimits() {
        let small = RESPLimits(maximumBulkLength: 8, maximumArrayCount: 3, maximumDepth: 2, maximumReplyBytes: 40)
        XCTAssertEqual(error("$9\r\n", limits: small), "invalid reply from the Redis server: a bulk string length of 9 (allowed: -1 to 8)")
        XCTAssertEqual(error("*4\r\n", limits: small), "invalid reply from the Redis server: an array of 4 elements (allowed: -1 to 3)")
        XCTAssertEqual(error("*1\r\n*1\r\n*1\r\n:1\r\n", limits: small), "invalid reply from the Redis server: arrays nested more than 2 deep")
        XCTAssertEqual(error("*3\r\n$8\r\n12345678\r\n$8\r\n12345678\r\n$8\r\n", limits: small), "invalid reply from the Redis server: a reply longer than 40 bytes")
        // A line that never ends is refused once it is longer than a reply may be.
        XCTAssertEqual(error("+" + String(repeating: "x", count: 60), limits: small), "invalid reply from the Redis server: a line longer than 40 bytes")
        XCTAssertNil(error("+" + String(repeating: "x", count: 20), limits: small), "a short unfinished line waits")
    }

    func testCommandsAreArraysOfBulkStrings() {
        var buffer = ByteBuffer()
        RESPCommandEncoder.write(RESPCommand("SET", "k", "v\r\n"), into: &buffer)
        XCTAssertEqual(buffer.readString(length: buffer.readableBytes), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n")
        XCTAssertEqual(RESPCommand("xadd", "key").name, "XADD")
    }
}

final class RedisEndpointTests: XCTestCase {
    func testURLs() throws {
        XCTAssertEqual(try RedisEndpoint(url: "redis://127.0.0.1"), RedisEndpoint(host: "127.0.0.1"))
        XCTAssertEqual(try RedisEndpoint(url: "redis://cache.local:6380/2"), RedisEndpoint(host: "cache.local", port: 6380, database: 2))
        XCTAssertEqual(try RedisEndpoint(url: "rediss://:s3cret@cache:7000"), RedisEndpoint(host: "cache", port: 7000, usesTLS: true, password: "s3cret"))
        XCTAssertEqual(try RedisEndpoint(url: "redis://relay:pw@[::1]:7001"), RedisEndpoint(host: "::1", port: 7001, user: "relay", password: "pw"))
        XCTAssertEqual(try RedisEndpoint(url: "rediss://:s3cret@cache:7000").description, "rediss://cache:7000", "no password in what is shown")
    }

    func testBadURLsSayWhatToWrite() {
        func message(_ url: String) -> String? {
            do {
                _ = try RedisEndpoint(url: url)
                return nil
            } catch {
                return error.description
            }
        }
        XCTAssertEqual(message("http://x"), "'http://x' is not a Redis URL; write redis://host:port or rediss://host:port (TLS)")
        XCTAssertEqual(message("redis://:pw@host:99999"), "'redis://:***@host:99999': the port must be a number from 1 to 65535, found '99999'")
        XCTAssertEqual(message("redis://"), "'redis://' names no host; write e.g. redis://127.0.0.1:6379")
        XCTAssertEqual(message("redis://h/x"), "'redis://h/x': the path must be a database number such as /0, found /x")
    }
}
