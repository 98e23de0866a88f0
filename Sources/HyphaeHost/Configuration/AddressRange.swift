import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A block of IP addresses written in CIDR notation (`10.0.0.0/8`, `fd00::/8`), or a
/// single address (`192.0.2.7`, `::1`). An IPv4 block also holds the IPv4-mapped IPv6
/// form of its addresses (`::ffff:10.1.2.3`), which is how a dual-stack socket reports
/// an IPv4 client.
public struct AddressRange: Sendable, Hashable, CustomStringConvertible {
    /// The network's bytes: 4 for IPv4, 16 for IPv6, host bits zero.
    private let network: [UInt8]
    private let prefixLength: Int

    /// 127.0.0.0/8 and ::1: what `trusted_addresses` holds unless set.
    public static let loopback: [AddressRange] = [
        AddressRange(network: [127, 0, 0, 0], prefixLength: 8),
        AddressRange(network: Array(repeating: 0, count: 15) + [1], prefixLength: 128),
    ]

    private init(network: [UInt8], prefixLength: Int) {
        self.network = network
        self.prefixLength = prefixLength
    }

    /// Reads `text`; the error says what is wrong and what was probably meant.
    public init(parsing text: String) throws(AddressRangeError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = parts.first.map(String.init), let bytes = Self.bytes(ofIP: address) else {
            throw AddressRangeError("'\(text)' is not an IP address or CIDR block; write one such as 10.0.0.0/8, 192.0.2.7 or fd00::/8")
        }
        let maximum = bytes.count * 8
        var length = maximum
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...maximum).contains(given) else {
                throw AddressRangeError("'\(text)': the prefix length after '/' must be a number from 0 to \(maximum)")
            }
            length = given
        }
        let network = Self.masked(bytes, to: length)
        guard network == bytes else {
            let suggestion = AddressRange(network: network, prefixLength: length)
            throw AddressRangeError("'\(text)' has bits set past its /\(length) prefix; did you mean \(suggestion)?")
        }
        self.init(network: network, prefixLength: length)
    }

    /// Whether the address (as `SocketAddress.ipAddress` writes it) is in the block.
    public func contains(ip text: String) -> Bool {
        guard var bytes = Self.bytes(ofIP: text) else { return false }
        if network.count == 4, bytes.count == 16, bytes[0..<12].elementsEqual(Self.ipv4MappedPrefix) {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == network.count else { return false }
        return Self.masked(bytes, to: prefixLength) == network
    }

    public var description: String {
        let address = Self.text(of: network)
        return prefixLength == network.count * 8 ? address : "\(address)/\(prefixLength)"
    }

    private static let ipv4MappedPrefix: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF]

    private static func masked(_ bytes: [UInt8], to length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bitsKept = min(8, max(0, length - index * 8))
            return bitsKept == 8 ? byte : byte & ~(UInt8(0xFF) >> bitsKept)
        }
    }

    /// The 4 or 16 bytes of an IPv4 or IPv6 address, or nil for anything else.
    static func bytes(ofIP text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    private static func text(of bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let written = bytes.withUnsafeBytes { source in
            inet_ntop(family, source.baseAddress, &buffer, socklen_t(buffer.count))
        }
        guard written != nil else { return bytes.map(String.init).joined(separator: ".") }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An address block that cannot be read, with what to write instead.
public struct AddressRangeError: Error, Sendable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
