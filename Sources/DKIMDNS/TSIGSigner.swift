import DKIM
import Glibc

/// Signs DNS requests with a TSIG key and checks the answers' TSIG (RFC 8945).
///
/// The HMAC is given from outside (DKIMDNS holds no cryptography; `DKIMOpenSSL.HMACSHA256`
/// provides it), and so is the clock, so the time signed can be fixed in tests.
public struct TSIGSigner: Sendable {
    /// HMAC-SHA256 of a message under a key (RFC 2104).
    public typealias HMAC = @Sendable (_ key: [UInt8], _ message: [UInt8]) throws(DKIMError) -> [UInt8]
    /// Seconds since 1970-01-01 UTC.
    public typealias Clock = @Sendable () -> UInt64

    /// The seconds by which the time signed may differ from the receiver's clock (the time check
    /// of RFC 8945 §5.2.3; 300 s, the value RFC 8945 recommends).
    public static let fudge: UInt16 = 300

    /// The system's clock.
    public static let systemClock: Clock = { UInt64(max(0, time(nil))) }

    /// A request as signed: the bytes to send and what its answer is checked against.
    public struct SignedMessage: Sendable {
        /// The message with its TSIG record appended.
        public let bytes: [UInt8]
        /// The message's id (the TSIG's original id).
        public let id: UInt16
        /// The request's MAC, which the answer's MAC covers (RFC 8945 §4.3).
        public let mac: [UInt8]
        /// The time signed, seconds since 1970.
        public let timeSigned: UInt64
    }

    /// What the TSIG of an answer says (RFC 8945 §5.4).
    public enum Verdict: Sendable, Equatable {
        /// Signed with the key over this answer to this request, within the fudge.
        case verified
        /// The answer has no TSIG record.
        case unsigned
        /// The server reports a TSIG error: BADSIG or BADKEY (unsigned, RFC 8945 §5.3.2), BADTIME
        /// with the server's clock when it gave it (§5.2.3), or another.
        case refused(DNSResponseCode, serverTime: UInt64?)
        /// Signed with another key or algorithm than the request's.
        case otherKey(name: DNSName, algorithm: DNSName)
        /// The MAC does not match (§5.4.2): the answer was changed, or not made with the key.
        case invalidMAC
        /// Signed at a time further from our clock than the fudge allows (§5.4.3).
        case timeOutsideFudge(timeSigned: UInt64, now: UInt64)
        /// A TSIG record that is not the last of the message, or cannot be read.
        case malformed
    }

    public let key: TSIGKey
    private let hmac: HMAC
    private let clock: Clock

    public init(key: TSIGKey, hmac: @escaping HMAC, clock: @escaping Clock = TSIGSigner.systemClock) {
        self.key = key
        self.hmac = hmac
        self.clock = clock
    }

    /// Appends a TSIG record to `message` (RFC 8945 §4.3, §5.1): the MAC over the message as it
    /// is and the TSIG variables, the time signed now, the fudge 300 s; ARCOUNT goes up by one.
    public func sign(_ message: [UInt8]) throws(DKIMError) -> SignedMessage {
        try sign(message, at: clock())
    }

    /// `sign(_:)` with a given time signed.
    func sign(_ message: [UInt8], at time: UInt64) throws(DKIMError) -> SignedMessage {
        guard message.count >= 12 else { throw DKIMError(.invalidArgument, "a DNS message has a 12-byte header") }
        let id = UInt16(message[0]) << 8 | UInt16(message[1])
        var record = TSIGRecord(keyName: key.name, algorithm: key.algorithm.name, timeSigned: time & 0xFFFF_FFFF_FFFF,
                                fudge: Self.fudge, mac: [], originalID: id)
        record.mac = try authenticationCode(message + record.variables)
        var signed = message
        let count = (UInt16(message[10]) << 8 | UInt16(message[11])) &+ 1
        signed[10] = UInt8(count >> 8)
        signed[11] = UInt8(count & 0xFF)
        signed += record.wire
        return SignedMessage(bytes: signed, id: id, mac: record.mac, timeSigned: record.timeSigned)
    }

    /// Checks the TSIG of `response`, an answer to `request` (RFC 8945 §5.3, §5.4): the TSIG
    /// must be the last record; its error must be NOERROR; it must name the request's key and
    /// algorithm; its MAC must cover the request's MAC (with its length), the answer as it was
    /// before the TSIG was added (its original id, ARCOUNT one less) and the TSIG variables;
    /// its time signed must be within the fudge of our clock.
    public func verify(_ response: [UInt8], answering request: SignedMessage) -> Verdict {
        guard let message = DNSMessage(response) else { return .malformed }
        let tsigs = (message.answers + message.authority + message.additional).filter { $0.type == TSIGRecord.type }
        guard let last = message.additional.last, last.type == TSIGRecord.type else {
            return tsigs.isEmpty ? .unsigned : .malformed
        }
        guard tsigs.count == 1, let tsig = TSIGRecord(last, in: message) else { return .malformed }
        guard tsig.error == .noError else {
            return .refused(tsig.error, serverTime: tsig.error == .badTime ? tsig.serverTime : nil)
        }
        guard tsig.keyName == key.name, tsig.algorithm == key.algorithm.name else {
            return .otherKey(name: tsig.keyName, algorithm: tsig.algorithm)
        }
        guard tsig.mac.count == key.algorithm.macSize, tsig.originalID == request.id else { return .invalidMAC }
        var unsigned = Array(response[..<last.start])
        unsigned[0] = UInt8(tsig.originalID >> 8)
        unsigned[1] = UInt8(tsig.originalID & 0xFF)
        let count = UInt16(message.additional.count - 1)
        unsigned[10] = UInt8(count >> 8)
        unsigned[11] = UInt8(count & 0xFF)
        let covered = DNSWire.u16(UInt16(request.mac.count)) + request.mac + unsigned + tsig.variables
        guard let expected = try? authenticationCode(covered), Self.equalInConstantTime(expected, tsig.mac) else {
            return .invalidMAC
        }
        let now = clock()
        let distance = now > tsig.timeSigned ? now - tsig.timeSigned : tsig.timeSigned - now
        guard distance <= UInt64(tsig.fudge) else { return .timeOutsideFudge(timeSigned: tsig.timeSigned, now: now) }
        return .verified
    }

    private func authenticationCode(_ bytes: [UInt8]) throws(DKIMError) -> [UInt8] {
        let mac = try hmac(key.secret, bytes)
        guard mac.count == key.algorithm.macSize else {
            throw DKIMError(.internalError, "the HMAC gave \(mac.count) bytes; \(key.algorithm) gives "
                            + "\(key.algorithm.macSize)")
        }
        return mac
    }

    /// Compares two MACs without stopping at the first difference.
    private static func equalInConstantTime(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
