/// Standard base64 (RFC 4648, with `=` padding), written straight into the
/// string's storage so that encoding costs one allocation.
enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let padding = UInt8(ascii: "=")

    static func encodedLength(ofByteCount count: Int) -> Int {
        (count + 2) / 3 * 4
    }

    static func encode(_ bytes: [UInt8]) -> String {
        let length = encodedLength(ofByteCount: bytes.count)
        guard length > 0 else { return "" }
        return String(unsafeUninitializedCapacity: length) { output in
            bytes.withUnsafeBufferPointer { input in
                alphabet.withUnsafeBufferPointer { symbols in
                    var read = 0
                    var written = 0
                    while read + 3 <= input.count {
                        let group = UInt32(input[read]) << 16 | UInt32(input[read + 1]) << 8 | UInt32(input[read + 2])
                        output[written] = symbols[Int(group >> 18)]
                        output[written + 1] = symbols[Int(group >> 12 & 0x3F)]
                        output[written + 2] = symbols[Int(group >> 6 & 0x3F)]
                        output[written + 3] = symbols[Int(group & 0x3F)]
                        read += 3
                        written += 4
                    }
                    let remaining = input.count - read
                    if remaining > 0 {
                        let second = remaining == 2 ? UInt32(input[read + 1]) : 0
                        let group = UInt32(input[read]) << 16 | second << 8
                        output[written] = symbols[Int(group >> 18)]
                        output[written + 1] = symbols[Int(group >> 12 & 0x3F)]
                        output[written + 2] = remaining == 2 ? symbols[Int(group >> 6 & 0x3F)] : padding
                        output[written + 3] = padding
                    }
                }
            }
            return length
        }
    }
}
