extension StringProtocol {
    /// The start of the text, at most `maximum` bytes of UTF-8, cut between Unicode scalars.
    ///
    /// For quoting input in a message or a log line: `prefix(_:)` counts characters,
    /// and one character can be any number of bytes (a letter followed by thousands of
    /// combining marks), so a quote bounded in characters is not bounded in size.
    public func prefix(utf8Bytes maximum: Int) -> String {
        let bytes = utf8
        guard bytes.count > maximum else { return String(self) }
        guard maximum > 0 else { return "" }
        // A continuation byte (10xxxxxx) at the cut means a scalar starts before it.
        var length = maximum
        while length > 0, bytes[bytes.index(bytes.startIndex, offsetBy: length)] & 0xC0 == 0x80 {
            length -= 1
        }
        return String(decoding: bytes.prefix(length), as: UTF8.self)
    }
}
