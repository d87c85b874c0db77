internal import CMilter
import DKIM
import DKIMMilterCore
import Foundation
import Glibc

/// The only file that talks to libmilter: its callbacks become `MilterSession` calls, and the
/// session's replies and header changes become `smfi_*` calls.
enum MilterCallbacks {
    struct SocketError: Error, CustomStringConvertible {
        var description: String
    }

    static func syslog(_ priority: Int32, _ message: String) {
        cmilter_syslog(priority, message)
    }

    /// C strings libmilter keeps pointers to for as long as it runs; freed when dropped.
    final class Registration {
        let name: UnsafeMutablePointer<CChar>?
        let socket: UnsafeMutablePointer<CChar>?
        init(name: String, socket: String) {
            self.name = strdup(name)
            self.socket = strdup(socket)
        }
        deinit {
            free(name)
            free(socket)
        }
    }

    /// Whether the socket opened is a TCP one (set once by `open`; a reload does not move it).
    static let listensOverTCP = Locked(false)

    /// Registers the callbacks and opens the socket (before privileges are dropped). Keep the
    /// result until `serve()` has returned.
    static func open(socket: String) throws(SocketError) -> Registration {
        listensOverTCP.withLock { $0 = socket.lowercased().hasPrefix("inet") }
        var description = smfiDesc()
        let registration = Registration(name: "dkim-milter", socket: socket)
        let name = registration.name
        description.xxfi_name = name
        description.xxfi_version = SMFI_VERSION
        description.xxfi_flags = UInt(SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE)
        description.xxfi_connect = connect
        description.xxfi_envfrom = envelopeFrom
        description.xxfi_data = data
        description.xxfi_header = header
        description.xxfi_eoh = endOfHeaders
        description.xxfi_body = body
        description.xxfi_eom = endOfMessage
        description.xxfi_abort = abort
        description.xxfi_close = close
        description.xxfi_negotiate = negotiate
        guard smfi_register(description) == MI_SUCCESS else {
            throw SocketError(description: "libmilter refused to register the filter")
        }
        guard smfi_setconn(registration.socket) == MI_SUCCESS else {
            throw SocketError(description: "libmilter refused the socket \(socket)")
        }
        smfi_settimeout(600)
        guard smfi_opensocket(true) == MI_SUCCESS else {
            throw SocketError(description: "cannot open the socket \(socket): is another milter listening there, "
                + "or is the directory missing or not writable?")
        }
        if listensOverTCP.withLock({ $0 }) { TCPNoDelay.setOnListeningSockets() }
        return registration
    }

    /// Runs libmilter's accept loop until SIGTERM/SIGINT/SIGHUP.
    static func serve() -> Int32 {
        smfi_main()
    }

    /// Asks libmilter's accept loop to end, as its own SIGTERM handling does: the listening
    /// socket is closed at once and `serve()` returns within libmilter's 5 s poll.
    static func stop() {
        _ = smfi_stop()
    }

    // MARK: Context

    /// Runs a callback body counted as in flight, so that shutdown waits for it.
    private static func inFlight(_ body: () -> sfsistat) -> sfsistat {
        guard let h = MilterHost.current.withLock({ $0 }) else { return body() }
        return h.busy(body)
    }

    /// What libmilter keeps for one connection (smfi_setpriv): the session, and the steps the
    /// MTA agreed to send without waiting for a reply.
    final class Connection {
        var session: MilterSession?
        var noReply: UInt = 0
        /// The key lookups of the message being verified.
        var lookups: KeyLookups?
    }

    private static func connection(_ ctx: OpaquePointer?) -> Connection? {
        guard let raw = smfi_getpriv(ctx) else { return nil }
        return Unmanaged<Connection>.fromOpaque(raw).takeUnretainedValue()
    }

    private static func session(_ ctx: OpaquePointer?) -> MilterSession? {
        connection(ctx)?.session
    }

    /// SMFIS_NOREPLY where the step was negotiated without reply, else the status.
    private static func reply(_ status: sfsistat, _ ctx: OpaquePointer?, noReplyFlag: Int) -> sfsistat {
        guard status == SMFIS_CONTINUE, let c = connection(ctx), c.noReply & UInt(noReplyFlag) != 0 else {
            return status
        }
        return SMFIS_NOREPLY
    }

    private static func makeConnection(_ ctx: OpaquePointer?) -> Connection {
        if let c = connection(ctx) { return c }
        let c = Connection()
        smfi_setpriv(ctx, Unmanaged.passRetained(c).toOpaque())
        MilterHost.current.withLock { $0 }?.liveConnections.withLock { $0 += 1 }
        return c
    }

    private static func symbol(_ ctx: OpaquePointer?, _ name: String) -> String? {
        name.withCString { p in
            smfi_getsymval(ctx, UnsafeMutablePointer(mutating: p)).map { String(cString: $0) }
        }
    }

    private static func macros(_ ctx: OpaquePointer?, _ names: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for n in names { if let v = symbol(ctx, n) { out[n] = v } }
        return out
    }

    private static func status(_ reply: MilterReply, _ ctx: OpaquePointer?) -> sfsistat {
        switch reply {
        case .continue: return SMFIS_CONTINUE
        case .accept: return SMFIS_ACCEPT
        case .reject: return SMFIS_REJECT
        case .tempfail: return SMFIS_TEMPFAIL
        case .discard: return SMFIS_DISCARD
        case .quarantine(let reason):
            reason.withCString { _ = smfi_quarantine(ctx, UnsafeMutablePointer(mutating: $0)) }
            return SMFIS_ACCEPT
        }
    }

    // MARK: Callbacks (global functions: closures would be main-actor isolated)

    private typealias Flags = UnsafeMutablePointer<UInt>
    private typealias CString = UnsafeMutablePointer<CChar>

    private static let negotiate: @convention(c) (OpaquePointer?, UInt, UInt, UInt, UInt,
                                                  Flags?, Flags?, Flags?, Flags?) -> sfsistat = {
        ctx, actions, protocol_, _, _, pActions, pProtocol, p2, p3 in
        pActions?.pointee = actions & UInt(SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE)
        // Header values with their leading space, exactly as sent; skip the steps not needed;
        // no replies for the steps that always continue (fewer round trips per message), the end
        // of headers included: Postfix then sends headers, body and end of message in one go.
        let verifies = MilterHost.current.withLock { $0 }?.currentPolicy.configuration.verifies ?? true
        // (Only when verifying does every message go on to end of message; sign-only mode accepts
        // outside mail at end of headers, and Postfix then sends no body.)
        // Over TCP the DATA step is sent and answered: the answer acknowledges what Postfix sent
        // before it without waiting (connect, MAIL), so that Nagle's algorithm on Postfix's side
        // does not hold the headers until our delayed ACK (40 ms a message: 170 against 446 msg/s
        // in `dkim-bench postfix`). A unix socket has no Nagle.
        let overTCP = MilterCallbacks.listensOverTCP.withLock { $0 }
        let noReply = UInt(SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR | (verifies ? SMFIP_NR_EOH : 0)
                               | SMFIP_NR_BODY)
        let wanted = UInt(SMFIP_HDR_LEADSPC | SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NOUNKNOWN
                              | (overTCP ? 0 : SMFIP_NODATA) | SMFIP_SKIP) | noReply
        pProtocol?.pointee = protocol_ & wanted
        MilterCallbacks.makeConnection(ctx).noReply = protocol_ & noReply
        p2?.pointee = 0
        p3?.pointee = 0
        return SMFIS_CONTINUE
    }

    private static let connect: @convention(c) (OpaquePointer?, CString?, UnsafeMutablePointer<sockaddr>?)
        -> sfsistat = {
        ctx, host, address in
        guard let h = MilterHost.current.withLock({ $0 }) else { return SMFIS_TEMPFAIL }
        let session = MilterSession(policy: h.currentPolicy)
        MilterCallbacks.makeConnection(ctx).session = session
        let status = MilterCallbacks.status(session.connect(hostname: host.map { String(cString: $0) },
                                                            address: MilterCallbacks.addressString(address)), ctx)
        return MilterCallbacks.reply(status, ctx, noReplyFlag: SMFIP_NR_CONN)
    }

    private static let envelopeFrom: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CString?>?) -> sfsistat = {
        ctx, _ in
        guard let s = MilterCallbacks.session(ctx) else { return SMFIS_TEMPFAIL }
        let host = MilterHost.current.withLock { $0 }
        // A message left unfinished on this connection ends here, with its outcome.
        MilterCallbacks.endMessage(ctx)
        host?.metrics.messageStarted()
        let m = MilterCallbacks.macros(ctx, ["{auth_authen}", "{auth_type}", "{daemon_name}", "i"])
        let reply = s.envelopeFrom(macros: m, policy: host?.currentPolicy)
        return MilterCallbacks.reply(MilterCallbacks.status(reply, ctx), ctx, noReplyFlag: SMFIP_NR_MAIL)
    }

    /// xxfi_data, asked for over TCP only (see negotiate): answered at once.
    private static let data: @convention(c) (OpaquePointer?) -> sfsistat = { _ in SMFIS_CONTINUE }

    private static let header: @convention(c) (OpaquePointer?, CString?, CString?) -> sfsistat = {
        ctx, name, value in
        guard let s = MilterCallbacks.session(ctx), let name else { return SMFIS_TEMPFAIL }
        let bytes: [UInt8] = value.map { v in
            Array(UnsafeBufferPointer(start: UnsafeRawPointer(v).assumingMemoryBound(to: UInt8.self), count: strlen(v)))
        } ?? []
        return MilterCallbacks.reply(MilterCallbacks.status(s.header(name: String(cString: name), value: bytes), ctx),
                                     ctx, noReplyFlag: SMFIP_NR_HDR)
    }

    private static let endOfHeaders: @convention(c) (OpaquePointer?) -> sfsistat = { ctx in
        MilterCallbacks.inFlight {
            guard let c = MilterCallbacks.connection(ctx), let s = c.session else { return SMFIS_TEMPFAIL }
            s.addMacros(MilterCallbacks.macros(ctx, ["{auth_authen}", "{auth_type}", "{daemon_name}", "i"]))
            // Without a reply at end of headers, a message with nothing to do is not accepted here:
            // the session ignores its body and accepts it at end of message.
            let noReply = c.noReply & UInt(SMFIP_NR_EOH) != 0
            switch s.endOfHeaders() {
            case .accept:
                guard !noReply else { return SMFIS_NOREPLY }
                // Accepted: the MTA sends no more of this message, so its outcome is recorded now.
                if let outcome = s.acceptedAtEndOfHeaders() { MilterHost.current.withLock { $0 }?.record(outcome) }
                return SMFIS_ACCEPT
            case .continue:
                return noReply ? SMFIS_NOREPLY : SMFIS_CONTINUE
            case .lookUp(let names):
                // DNS overlaps the body; the message waits for it at end of message, until the deadline.
                let deadline = DispatchTime.now() + s.policy.configuration.dnsDeadline
                c.lookups = KeyLookups(names, resolver: s.policy.resolver, deadline: deadline)
                return noReply ? SMFIS_NOREPLY : SMFIS_CONTINUE
            }
        }
    }

    private static let body: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt8>?, Int) -> sfsistat = {
        ctx, bytes, length in
        MilterCallbacks.inFlight {
            guard let s = MilterCallbacks.session(ctx) else { return SMFIS_TEMPFAIL }
            guard let bytes, length > 0 else {
                return MilterCallbacks.reply(SMFIS_CONTINUE, ctx, noReplyFlag: SMFIP_NR_BODY)
            }
            let status = MilterCallbacks.status(s.body(UnsafeBufferPointer(start: bytes, count: length)), ctx)
            return MilterCallbacks.reply(status, ctx, noReplyFlag: SMFIP_NR_BODY)
        }
    }

    private static let endOfMessage: @convention(c) (OpaquePointer?) -> sfsistat = { ctx in
        MilterCallbacks.inFlight { MilterCallbacks.finishMessage(ctx) }
    }

    private static func finishMessage(_ ctx: OpaquePointer?) -> sfsistat {
        guard let c = MilterCallbacks.connection(ctx), let s = c.session else { return SMFIS_TEMPFAIL }
        let answers = c.lookups?.wait()
        c.lookups = nil
        let (actions, outcome) = s.endOfMessage(macros: MilterCallbacks.macros(ctx, ["i"]),
                                                keys: answers?.answers ?? [:], dnsWait: answers?.waited ?? 0)
        for m in actions.modifications {
            switch m {
            case .insert(let index, let name, let value):
                name.withCString { n in value.withCString { v in
                    _ = smfi_insheader(ctx, Int32(index), UnsafeMutablePointer(mutating: n),
                                       UnsafeMutablePointer(mutating: v))
                } }
            case .delete(let name, let index):
                name.withCString { n in _ = smfi_chgheader(ctx, UnsafeMutablePointer(mutating: n), Int32(index), nil) }
            }
        }
        MilterHost.current.withLock { $0 }?.record(outcome)
        return MilterCallbacks.status(actions.reply, ctx)
    }

    private static let abort: @convention(c) (OpaquePointer?) -> sfsistat = { ctx in
        MilterCallbacks.endMessage(ctx)
        return SMFIS_CONTINUE
    }

    /// A message dropped by the MTA or by a closed connection: its outcome is recorded too.
    private static func endMessage(_ ctx: OpaquePointer?) {
        guard let c = MilterCallbacks.connection(ctx) else { return }
        c.lookups = nil
        if let outcome = c.session?.abort() { MilterHost.current.withLock { $0 }?.record(outcome) }
    }

    private static let close: @convention(c) (OpaquePointer?) -> sfsistat = { ctx in
        MilterCallbacks.endMessage(ctx)
        if let raw = smfi_getpriv(ctx) {
            Unmanaged<Connection>.fromOpaque(raw).release()
            smfi_setpriv(ctx, nil)
            MilterHost.current.withLock { $0 }?.liveConnections.withLock { $0 -= 1 }
        }
        return SMFIS_CONTINUE
    }

    static func addressString(_ address: UnsafeMutablePointer<sockaddr>?) -> String? {
        guard let address else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var a = sin.pointee.sin_addr
                return inet_ntop(AF_INET, &a, &buffer, socklen_t(buffer.count)).map { String(cString: $0) }
            }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin in
                var a = sin.pointee.sin6_addr
                return inet_ntop(AF_INET6, &a, &buffer, socklen_t(buffer.count)).map { String(cString: $0) }
            }
        default:
            return nil
        }
    }
}
