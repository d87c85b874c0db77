import DKIM
import Dispatch
import Glibc

/// Publishes records by DNS UPDATE (RFC 2136) signed with TSIG (RFC 8945), to one server: the
/// zone's primary, as `nsupdate` does. Each call blocks until the server has answered (over
/// TCP, which RFC 7766 §5 lets every DNS message use) or `timeout` seconds have passed, whichever comes first.
///
/// Every answer that reports success must carry a TSIG that verifies with the key (RFC 8945
/// §5.4); an answer that does not is an error, since it could be forged. Errors are `DKIMError`s
/// whose reason names the server, the name, the response code's word and the fix; none holds
/// the secret.
///
///     let client = try DNSUpdateClient(server: "192.0.2.53", tsigKeyFile: "/etc/dkim/rotate.key",
///                                      hmac: HMACSHA256.authenticationCode)
///     try client.replaceTXT(name: "s2._domainkey.example.com", value: record, ttl: 300)
public struct DNSUpdateClient: Sendable {
    public let server: DNSNameserver
    public let key: TSIGKey
    /// Seconds each call may take, from its start to the server's last answer.
    public let timeout: Double
    private let signer: TSIGSigner

    public init(server: DNSNameserver, key: TSIGKey, hmac: @escaping TSIGSigner.HMAC, timeout: Double = 10,
                clock: @escaping TSIGSigner.Clock = TSIGSigner.systemClock) throws(DKIMError) {
        guard timeout > 0, timeout <= 3600 else {
            throw DKIMError(.invalidArgument, "the DNS update timeout must be above 0 and at most 3600 seconds")
        }
        self.server = server
        self.key = key
        self.timeout = timeout
        self.signer = TSIGSigner(key: key, hmac: hmac, clock: clock)
    }

    /// A client for `server` (`IP`, `IP:PORT` or `[IPv6]:PORT`, port 53 unless given) with the
    /// key of a BIND key file (see `TSIGKey.load(bindKeyFile:)`): the file is read and checked
    /// before anything is sent.
    public init(server: String, tsigKeyFile: String, hmac: @escaping TSIGSigner.HMAC,
                timeout: Double = 10) throws(DKIMError) {
        let key = try TSIGKey.load(bindKeyFile: tsigKeyFile)
        try self.init(server: try DNSNameserver(server), key: key, hmac: hmac, timeout: timeout)
    }

    // MARK: Publishing

    /// Replaces every TXT record at `name` with one holding `value`, in one update: the TXT
    /// RRset deleted (RFC 2136 §2.5.2), then the record added (§2.5.1); the server applies them
    /// in order, both or neither (§3.4.2, §3.4.2.1). The zone is found from the server unless given.
    public func replaceTXT(name: String, value: String, ttl: UInt32, zone: String? = nil) throws(DKIMError) {
        let deadline = makeDeadline()
        let owner = try Self.name(name)
        let apex = try self.zone(zone, of: owner, by: deadline)
        try send(DNSUpdate(zone: apex, changes: [.deleteRecords(owner, type: .txt),
                                                 .addTXT(owner, value: value, ttl: ttl)]), by: deadline)
    }

    /// Deletes the TXT records at `name` (RFC 2136 §2.5.2, §3.4.2.3); none there is no error.
    public func deleteTXT(name: String, zone: String? = nil) throws(DKIMError) {
        let deadline = makeDeadline()
        let owner = try Self.name(name)
        let apex = try self.zone(zone, of: owner, by: deadline)
        try send(DNSUpdate(zone: apex, changes: [.deleteRecords(owner, type: .txt)]), by: deadline)
    }

    /// Sends an update, signed, and checks the answer.
    public func send(_ update: DNSUpdate) throws(DKIMError) {
        try send(update, by: makeDeadline())
    }

    /// The zone holding `name` on this server, found as nsupdate finds it: the owner of the SOA
    /// that answers an SOA query for the name (in the answer at a zone's apex, in the authority
    /// section below it, RFC 2308 §3), asking again one label up while the server does not
    /// answer for it.
    public func zone(of name: String) throws(DKIMError) -> DNSName {
        try findZone(of: try Self.name(name), by: makeDeadline())
    }

    // MARK: The exchange

    private func makeDeadline() -> UInt64 {
        DispatchTime.now().uptimeNanoseconds &+ UInt64(timeout * 1e9)
    }

    /// The zone given, or else the one found on the server.
    private func zone(_ given: String?, of owner: DNSName, by deadline: UInt64) throws(DKIMError) -> DNSName {
        if let given { return try Self.name(given) }
        return try findZone(of: owner, by: deadline)
    }

    private static func name(_ text: String) throws(DKIMError) -> DNSName {
        guard let name = DNSName(text), !name.labels.isEmpty else {
            throw DKIMError(.invalidArgument, "\"\(text)\" is not a domain name")
        }
        return name
    }

    private func send(_ update: DNSUpdate, by deadline: UInt64) throws(DKIMError) {
        let subject = update.changes.first?.name ?? update.zone
        let request = try signer.sign(try update.message(id: UInt16.random(in: .min ... .max)))
        let answer = try exchange(request.bytes, id: request.id, opcode: 5, about: "the update of \(subject)",
                                  by: deadline)
        let verdict = signer.verify(answer.bytes, answering: request)
        let problem = UpdateProblem(server: server, key: key, name: subject, zone: update.zone,
                                    prerequisites: update.prerequisites)
        switch verdict {
        case .verified:
            guard answer.responseCode == .noError else { throw problem.rejection(answer.responseCode, signed: true) }
        case .refused(let error, let serverTime):
            throw problem.tsigRefusal(error, serverTime: serverTime, timeSigned: request.timeSigned)
        case .unsigned where answer.responseCode != .noError:
            throw problem.rejection(answer.responseCode, signed: false)
        case .unsigned, .otherKey, .invalidMAC, .timeOutsideFudge, .malformed:
            throw problem.unverifiedAnswer(verdict, code: answer.responseCode)
        }
    }

    /// Sends one message and returns its answer, which must answer it: a response with the same
    /// id and opcode (RFC 1035 §4.1.1).
    private func exchange(_ bytes: [UInt8], id: UInt16, opcode: UInt8, about what: String,
                          by deadline: UInt64) throws(DKIMError) -> DNSMessage {
        switch DNSStreamExchange.exchange(bytes, with: server, deadline: deadline) {
        case .success(let reply):
            guard let message = DNSMessage(reply), message.id == id, message.isResponse, message.opcode == opcode else {
                throw DKIMError(.dnsUpdateUnavailable, "the DNS server \(server) sent something other than an "
                                + "answer to \(what); is \(server) a DNS server?")
            }
            return message
        case .failure(.timedOut):
            throw DKIMError(.dnsUpdateUnavailable, "the DNS server \(server) did not answer \(what) within "
                            + "\(Self.seconds(timeout)) s; check that named runs there and that TCP port "
                            + "\(server.port) is reachable from this host")
        case .failure(.cannotConnect(let code)):
            throw DKIMError(.dnsUpdateUnavailable, "cannot connect to the DNS server \(server) for \(what): "
                            + "\(String(cString: strerror(code))); check that named runs there and listens on TCP "
                            + "port \(server.port) (listen-on)")
        case .failure(.closed):
            throw DKIMError(.dnsUpdateUnavailable, "the DNS server \(server) closed the connection without answering "
                            + "\(what); its log says why")
        case .failure(.failed(let code)):
            throw DKIMError(.dnsUpdateUnavailable, "the connection to the DNS server \(server) failed during \(what): "
                            + "\(String(cString: strerror(code)))")
        }
    }

    /// Asks for the SOA of `name`, then of each name above it, until an authoritative answer
    /// names the zone: an SOA at the name in the answer, or the zone's SOA in the authority
    /// section (RFC 2308 §3), its owner at or above the name.
    private func findZone(of name: DNSName, by deadline: UInt64) throws(DKIMError) -> DNSName {
        var candidate: DNSName? = name
        var answers: [String] = []
        while let asked = candidate, !asked.labels.isEmpty {
            let id = UInt16.random(in: .min ... .max)
            // RFC 1035 §4.1: a standard query, RD clear (the authority itself is asked), for the SOA.
            let query = DNSWire.u16(id) + [0, 0, 0, 1, 0, 0, 0, 0, 0, 0] + asked.wire + [0, 6, 0, 1]
            let answer = try exchange(query, id: id, opcode: 0, about: "the SOA query for \(asked)", by: deadline)
            let code = answer.responseCode
            if answer.isAuthoritative, code == .noError || code == .nameError {
                let soa = (answer.answers + answer.authority).first { $0.type == 6 && name.isWithin($0.owner) }
                if let soa { return soa.owner }
            }
            if code == .noError, !answer.isAuthoritative,
               let referral = answer.authority.first(where: { $0.type == 2 }) {
                throw DKIMError(.dnsZoneNotFound, "the DNS server \(server) delegates \(referral.owner), which holds "
                                + "\(name), to other servers (its answer to the SOA query for \(asked) is a "
                                + "referral); give --server the primary server of the zone \(referral.owner)")
            }
            answers.append("\(asked): \(code)")
            candidate = asked.parent
        }
        throw DKIMError(.dnsZoneNotFound, "the DNS server \(server) is authoritative for no zone holding \(name): "
                        + "it answered the SOA queries with no SOA (\(answers.joined(separator: ", "))); give "
                        + "--server the primary server of \(name)'s zone, whose named.conf has a zone statement for it")
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
