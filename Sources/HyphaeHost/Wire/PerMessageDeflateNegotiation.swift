/// What the host agreed to when a client offered permessage-deflate (RFC 7692).
///
/// The host compresses each data frame once and sends the same bytes to every
/// subscriber that agreed, so it can only keep to terms that are the same for all:
/// no context takeover on its side (each message starts a fresh window) and its
/// largest window, 15 bits. It asks the client for no context takeover too, so that it
/// needs no inflate state between a client's messages.
struct PerMessageDeflateAgreement: Sendable, Equatable {
    /// Whether the offer bounded the host's window; then the answer must state it (7.1.2.1).
    var statesServerWindow: Bool

    /// The `Sec-WebSocket-Extensions` value of the handshake response.
    var responseHeader: String {
        var value = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        if statesServerWindow { value += "; server_max_window_bits=15" }
        return value
    }
}

/// Reads a client's `Sec-WebSocket-Extensions` offers and picks the first
/// permessage-deflate offer the host can accept. An offer is declined (and the next one
/// tried) when RFC 7692 section 5 says so: an unknown parameter, a parameter given
/// twice, an invalid value, or terms the host cannot keep (`server_max_window_bits`
/// below 15, since the one compressed copy of a frame is shared by every subscriber).
/// No acceptable offer: no extension, and the connection is exactly as without one.
enum PerMessageDeflateNegotiation {
    static let extensionName = "permessage-deflate"

    static func agreement(offers headerValues: [String]) -> PerMessageDeflateAgreement? {
        for header in headerValues {
            for offer in ExtensionListParser.elements(of: header) {
                if let agreement = agreement(for: offer) { return agreement }
            }
        }
        return nil
    }

    private static func agreement(for offer: ExtensionListParser.Element?) -> PerMessageDeflateAgreement? {
        guard let offer, offer.name.lowercased() == extensionName else { return nil }
        var seen: Set<String> = []
        var statesServerWindow = false
        for (name, value) in offer.parameters {
            guard seen.insert(name).inserted else { return nil }
            switch name {
            case "server_no_context_takeover", "client_no_context_takeover":
                guard value == nil else { return nil }
            case "server_max_window_bits":
                guard let value, let bits = windowBits(value), bits == 15 else { return nil }
                statesServerWindow = true
            case "client_max_window_bits":
                // The host inflates with a 15-bit window, which reads any smaller one.
                if let value, windowBits(value) == nil { return nil }
            default:
                return nil
            }
        }
        return PerMessageDeflateAgreement(statesServerWindow: statesServerWindow)
    }

    /// 8 to 15, in decimal without leading zeros (7.1.2.1).
    private static func windowBits(_ value: String) -> Int? {
        guard let first = value.first, first != "0", value.count <= 2, value.allSatisfy(\.isASCII),
              let bits = Int(value), (8...15).contains(bits) else { return nil }
        return bits
    }
}

/// RFC 6455's extension-list (9.1): `name; param; param=value, name2 ...`, where a value is
/// a token or a quoted string. An element that breaks the grammar comes back as nil, so
/// that the caller declines it and still reads the ones after it.
enum ExtensionListParser {
    struct Element: Equatable {
        var name: String
        var parameters: [(String, String?)]

        static func == (lhs: Element, rhs: Element) -> Bool {
            lhs.name == rhs.name && lhs.parameters.elementsEqual(rhs.parameters) { $0.0 == $1.0 && $0.1 == $1.1 }
        }
    }

    static func elements(of header: String) -> [Element?] {
        var scanner = Scanner(bytes: Array(header.utf8))
        var elements: [Element?] = []
        while !scanner.isAtEnd {
            elements.append(scanner.element())
            scanner.skipToNextElement()
        }
        return elements
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        var isAtEnd: Bool {
            var probe = index
            while probe < bytes.count, bytes[probe] == 0x20 || bytes[probe] == 0x09 || bytes[probe] == UInt8(ascii: ",") { probe += 1 }
            return probe >= bytes.count
        }

        mutating func element() -> Element? {
            skipSpace()
            while index < bytes.count, bytes[index] == UInt8(ascii: ",") {
                index += 1
                skipSpace()
            }
            guard let name = token() else { return nil }
            var parameters: [(String, String?)] = []
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ";") else { break }
                index += 1
                skipSpace()
                guard let parameter = token() else { return nil }
                skipSpace()
                var value: String?
                if index < bytes.count, bytes[index] == UInt8(ascii: "=") {
                    index += 1
                    skipSpace()
                    guard let read = quotedString() ?? token() else { return nil }
                    value = read
                }
                parameters.append((parameter.lowercased(), value))
            }
            skipSpace()
            guard index == bytes.count || bytes[index] == UInt8(ascii: ",") else { return nil }
            return Element(name: name, parameters: parameters)
        }

        /// Past the comma that ends the element, minding quoted strings (after a parse error).
        mutating func skipToNextElement() {
            var inQuotes = false
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if inQuotes {
                    if byte == UInt8(ascii: "\\") { index += 1 } else if byte == UInt8(ascii: "\"") { inQuotes = false }
                } else if byte == UInt8(ascii: "\"") {
                    inQuotes = true
                } else if byte == UInt8(ascii: ",") {
                    return
                }
            }
        }

        private mutating func skipSpace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
        }

        private mutating func token() -> String? {
            let start = index
            while index < bytes.count, Self.isTokenByte(bytes[index]) { index += 1 }
            guard index > start else { return nil }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// A quoted string's content; RFC 7692 (7.1.2.1) wants it to be a token once unquoted.
        private mutating func quotedString() -> String? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            var probe = index + 1
            var content: [UInt8] = []
            while probe < bytes.count, bytes[probe] != UInt8(ascii: "\"") {
                if bytes[probe] == UInt8(ascii: "\\") { probe += 1 }
                guard probe < bytes.count else { return nil }
                content.append(bytes[probe])
                probe += 1
            }
            guard probe < bytes.count, !content.isEmpty, content.allSatisfy(Self.isTokenByte) else { return nil }
            index = probe + 1
            return String(decoding: content, as: UTF8.self)
        }

        /// RFC 7230's tchar.
        private static func isTokenByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            default:
                symbolTokenBytes.contains(byte)
            }
        }

        private static let symbolTokenBytes = Array("!#$%&'*+-.^_`|~".utf8)
    }
}
