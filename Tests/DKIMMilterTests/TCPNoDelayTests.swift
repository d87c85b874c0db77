@testable import DKIMMilter
@testable import DKIMMilterCore
import DKIMTestSupport
import Glibc
import Testing

/// TCP_NODELAY reaches every milter connection: the ones accepted after the listener got it, and
/// the ones the kernel completed before (between libmilter's listen() and our setsockopt).
/// Serialized: one test sets the option on every listening socket of the process.
@Suite(.serialized) struct TCPNoDelayTests {
    /// A listening socket on a free loopback port, a client connected to it and the accepted
    /// socket; all closed by `close()`.
    struct Loopback {
        let listener: Int32
        let port: Int
        var client: Int32 = -1
        var accepted: Int32 = -1

        init() throws {
            (listener, port) = try #require(LoopbackSocket.bound(.tcp))
            try #require(listen(listener, 8) == 0)
        }

        mutating func connectAndAccept() throws {
            client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var a = LoopbackSocket.address(port: port)
            let connected = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            try #require(connected == 0)
            accepted = accept(listener, nil, nil)
            try #require(accepted >= 0)
        }

        func close() { for fd in [listener, client, accepted] where fd >= 0 { Glibc.close(fd) } }
    }

    static func noDelay(_ fd: Int32) -> Int32? { TCPNoDelay.option(fd, Int32(IPPROTO_TCP), TCP_NODELAY) }

    @Test func connectionsAcceptedAfterTheListenerGotTheOptionHaveIt() throws {
        var l = try Loopback()
        defer { l.close() }
        TCPNoDelay.setOnListeningSockets()
        try l.connectAndAccept()
        #expect(Self.noDelay(l.accepted) == 1)
    }

    @Test func connectionsCompletedBeforeTheListenerGotTheOptionGetItFromTheSweep() throws {
        var l = try Loopback()
        defer { l.close() }
        try l.connectAndAccept()  // the kernel copied the listener before it had the option
        #expect(Self.noDelay(l.accepted) == 0)
        TCPNoDelay.setOnConnectedSockets()
        #expect(Self.noDelay(l.accepted) == 1)
        #expect(Self.noDelay(l.client) == 1)
    }
}
