import DKIM
import Dispatch
import Glibc

/// An event-driven DNS stub client: one thread runs poll() over the sockets of all outstanding
/// queries, so a query costs a socket, not a thread, and a dead server delays nobody but the
/// queries sent to it, each no longer than its own deadline.
///
/// Queries can be submitted from any thread; each completion is called exactly once, on the
/// client's thread, which it shares with every other query: a completion must be quick (hand
/// the result over and return), must not block, and must not call `lookup`. When the client
/// is released, outstanding queries complete with `.shutDown`.
///
/// Security (RFC 5452): each try goes out from a fresh UDP socket (a source port chosen by the
/// kernel) with a random 16-bit id; an answer is taken only from the server the try was sent
/// to, with the same id and question; anything else is ignored and the wait goes on.
/// A truncated answer is asked again over TCP (RFC 7766). Each query holds one descriptor
/// while outstanding; beyond `maximumOutstanding` queries are refused, never queued.
public final class DNSClient: Sendable {
    /// Where and how to ask.
    public struct Configuration: Sendable {
        /// Asked in turn, one per try.
        public var nameservers: [DNSNameserver]
        /// Seconds to wait for each try.
        public var timeout: Double
        /// How many times each server is asked.
        public var tries: Int
        /// Start each query at the next server (resolv.conf `options rotate`).
        public var rotate: Bool
        /// Queries outstanding at most; more are refused with `.tooManyOutstanding`.
        public var maximumOutstanding: Int
        /// The UDP answer size offered with EDNS0 (RFC 6891 §6.2.5); nil sends no OPT record.
        public var udpPayloadSize: UInt16?

        public init(nameservers: [DNSNameserver], timeout: Double = 5, tries: Int = 2, rotate: Bool = false,
                    maximumOutstanding: Int = 1000, udpPayloadSize: UInt16? = 4096) {
            self.nameservers = nameservers
            self.timeout = timeout
            self.tries = tries
            self.rotate = rotate
            self.maximumOutstanding = maximumOutstanding
            self.udpPayloadSize = udpPayloadSize
        }

        /// The servers, timeout, tries and rotation of /etc/resolv.conf (or another file).
        public static func system(resolvConf path: String = "/etc/resolv.conf") -> Configuration {
            let conf = ResolvConf.load(path: path)
            return Configuration(nameservers: conf.nameservers, timeout: Double(conf.timeout), tries: conf.attempts,
                                 rotate: conf.rotate)
        }
    }

    public let configuration: Configuration
    private let loop: DNSEventLoop

    public init(configuration: Configuration = .system()) throws(DKIMError) {
        guard !configuration.nameservers.isEmpty else {
            throw DKIMError(.invalidArgument, "the DNS client needs at least one name server")
        }
        guard configuration.timeout > 0, configuration.tries > 0, configuration.maximumOutstanding > 0 else {
            throw DKIMError(.invalidArgument,
                            "the DNS timeout, tries and maximum of outstanding queries must be above 0")
        }
        let settings = DNSTransaction.Settings(
            servers: configuration.nameservers, timeoutNanoseconds: UInt64(min(configuration.timeout, 3600) * 1e9),
            tries: min(configuration.tries, 100), udpPayloadSize: configuration.udpPayloadSize)
        guard let loop = DNSEventLoop(settings: settings, rotate: configuration.rotate,
                                      maximumOutstanding: configuration.maximumOutstanding) else {
            throw DKIMError(.internalError, "the DNS client cannot create its wake-up descriptor (errno \(errno))")
        }
        self.configuration = configuration
        self.loop = loop
        loop.start()
    }

    /// One server as `IP` or `IP:PORT` (IPv4, or IPv6 as `[IP]:PORT`), or nil for the servers of
    /// /etc/resolv.conf; seconds per try; tries.
    public convenience init(nameserver: String? = nil, timeout: Int = 5, tries: Int = 2) throws(DKIMError) {
        var configuration = Configuration.system()
        if let nameserver { configuration.nameservers = [try DNSNameserver(nameserver)] }
        configuration.timeout = Double(max(1, timeout))
        configuration.tries = max(1, tries)
        try self.init(configuration: configuration)
    }

    deinit { loop.stop() }

    /// Queries submitted and not yet completed.
    public var outstandingQueries: Int { loop.outstandingQueries }

    /// Sends a query and returns at once. `completion` is called exactly once, on the client's
    /// thread, by `deadline` at the latest (then with `.timedOut`); it must be quick.
    public func query(_ name: String, type: DNSRecordType, deadline: DispatchTime,
                      completion: @escaping @Sendable (DNSLookupResult) -> Void) {
        guard let dnsName = DNSName(name) else {
            loop.deliver(.temporaryFailure(.invalidName), to: completion)
            return
        }
        loop.submit(DNSQuery(name: dnsName, type: type), deadline: deadline.uptimeNanoseconds, completion: completion)
    }

    /// Sends a query and waits for its result (for command-line tools and other threads that
    /// may block). Without a deadline the tries bound the wait: timeout × tries × servers.
    /// Must not be called from a completion.
    public func lookup(_ name: String, type: DNSRecordType,
                       deadline: DispatchTime = .distantFuture) -> DNSLookupResult {
        precondition(!loop.isLoopThread, "DNSClient.lookup called from a completion would wait for itself")
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        query(name, type: type, deadline: deadline) { result in
            box.result = result
            done.signal()
        }
        done.wait()
        return box.result ?? .temporaryFailure(.shutDown)
    }

    private final class ResultBox: @unchecked Sendable {
        var result: DNSLookupResult?
    }
}
