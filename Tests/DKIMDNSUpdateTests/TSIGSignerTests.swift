import DKIM
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMDNS

/// TSIG signing and checking (RFC 8945 §4.3, §5.3, §5.4) against BIND itself: a request that
/// `nsupdate` signed and the answer `named` signed to it, and `nsupdate` run again live.
@Suite struct TSIGSignerTests {
    /// The test-only key both were made with (`tsig-keygen -a hmac-sha256 dkim-rotate`).
    static let key = try! TSIGKey(name: "dkim-rotate", secret: Base64.decode(TSIGKeyTests.secret)!)

    /// `nsupdate -v -k dkim-rotate.key` (BIND 9.18.49) with "zone example.test", "update delete
    /// v._domainkey.example.test TXT", "update add v._domainkey.example.test 300 TXT
    /// "v=DKIM1; k=rsa; p=MIIB"", "send", through a TCP relay that recorded both messages.
    static let nsupdateRequest = [UInt8](hex:
        "366328000001000000020001076578616d706c650474657374000006000101760a5f646f6d61696e6b6579076578616d" +
        "706c65047465737400001000ff000000000000c01e001000010000012c001716763d444b494d313b206b3d7273613b20" +
        "703d4d4949420b646b696d2d726f746174650000fa00ff00000000003d0b686d61632d7368613235360000006b0eb197" +
        "012c0020064847f43e3e16407bb32a29b499a05d06fb27c3f8179ba45c49e767991364da366300000000")

    /// named's (BIND 9.18.49) signed NOERROR answer to it.
    static let namedResponse = [UInt8](hex:
        "3663a8000001000000000001076578616d706c65047465737400000600010b646b696d2d726f746174650000fa00ff00" +
        "000000003d0b686d61632d7368613235360000006b0eb197012c0020caeddad2e006e97731ade764ce7cbab38c92a538" +
        "82bb0f699e712524aabaa171366300000000")

    /// The request without its TSIG record, as it was before nsupdate signed it, and the TSIG.
    static func unsigned(_ signed: [UInt8]) throws -> (message: [UInt8], tsig: TSIGRecord) {
        let message = try #require(DNSMessage(signed))
        let last = try #require(message.additional.last)
        let tsig = try #require(TSIGRecord(last, in: message))
        var bytes = Array(signed[..<last.start])
        bytes[11] -= 1
        return (bytes, tsig)
    }

    static func signer(at time: UInt64) -> TSIGSigner {
        TSIGSigner(key: key, hmac: openSSLHMAC, clock: { time })
    }

    @Test func signsTheMessageNsupdateSignedIntoTheSameBytes() throws {
        let (message, tsig) = try Self.unsigned(Self.nsupdateRequest)
        #expect(tsig.fudge == 300 && tsig.mac.count == 32 && tsig.keyName == DNSName("dkim-rotate"))
        let signed = try Self.signer(at: tsig.timeSigned).sign(message)
        #expect(signed.bytes == Self.nsupdateRequest)
        #expect(signed.mac == tsig.mac)
    }

    @Test func verifiesTheAnswerNamedSigned() throws {
        let (message, tsig) = try Self.unsigned(Self.nsupdateRequest)
        let signer = Self.signer(at: tsig.timeSigned + 10)
        let request = try Self.signer(at: tsig.timeSigned).sign(message)
        #expect(signer.verify(Self.namedResponse, answering: request) == .verified)
    }

    @Test func refusesTheAnswerWithAnyByteChanged() throws {
        let (message, tsig) = try Self.unsigned(Self.nsupdateRequest)
        let request = try Self.signer(at: tsig.timeSigned).sign(message)
        let signer = Self.signer(at: tsig.timeSigned)
        // Header flags and RCODE, the zone name, and the MAC itself.
        for index in [3, 16, Self.namedResponse.count - 10] {
            var changed = Self.namedResponse
            changed[index] ^= 0x01
            #expect(signer.verify(changed, answering: request) != .verified, "byte \(index)")
        }
        // The right answer to another request (another request MAC).
        var other = message
        other[other.count - 1] ^= 0x01
        #expect(signer.verify(Self.namedResponse, answering: try signer.sign(other)) == .invalidMAC)
    }

    @Test func refusesAnAnswerSignedOutsideTheFudge() throws {
        let (message, tsig) = try Self.unsigned(Self.nsupdateRequest)
        let request = try Self.signer(at: tsig.timeSigned).sign(message)
        let late = Self.signer(at: tsig.timeSigned + 301)
        #expect(late.verify(Self.namedResponse, answering: request)
                == .timeOutsideFudge(timeSigned: tsig.timeSigned, now: tsig.timeSigned + 301))
        #expect(Self.signer(at: tsig.timeSigned - 300).verify(Self.namedResponse, answering: request) == .verified)
    }

    @Test func tellsAnUnsignedAnswerAndOneWithATSIGError() throws {
        let (message, tsig) = try Self.unsigned(Self.nsupdateRequest)
        let signer = Self.signer(at: tsig.timeSigned)
        let request = try signer.sign(message)
        let (bare, _) = try Self.unsigned(Self.namedResponse)
        #expect(signer.verify(bare, answering: request) == .unsigned)
        // The same answer with the TSIG's error set to BADKEY and no MAC (RFC 8945 §5.3.2).
        var refused = tsig
        refused.mac = []
        refused.error = .badKey
        var withError = bare
        withError[11] += 1
        withError += refused.wire
        #expect(signer.verify(withError, answering: request) == .refused(.badKey, serverTime: nil))
        #expect(signer.verify(Array(Self.namedResponse.dropLast(3)), answering: request) == .malformed)
    }

    /// nsupdate run now, against a listener of ours that records what it sends: our signer
    /// makes the same TSIG record for the same message, key and time.
    @Test func signsWhatNsupdateSendsNowWithTheSameMAC() throws {
        let directory = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(directory) }
        let made = try ProcessRunner.run(BINDServer.tsigKeygen, ["-a", "hmac-sha256", "live-key"])
        try #require(made.status == 0, "\(made.stderr)")
        try writeFile(made.stdoutText, to: directory + "/live.key")
        let (listener, port) = try #require(LoopbackSocket.bound(.tcp))
        defer { close(listener) }
        try #require(listen(listener, 1) == 0)
        try writeFile("""
            server 127.0.0.1 \(port)
            zone example.test
            update delete s._domainkey.example.test TXT
            update add s._domainkey.example.test 300 TXT "v=DKIM1; k=rsa; p=" "MIIBIjANBgkq"
            send

            """, to: directory + "/script")
        let nsupdate = try SpawnedProcess("/usr/bin/nsupdate", ["-v", "-t", "5", "-k", directory + "/live.key",
                                                                 directory + "/script"],
                                          output: directory + "/nsupdate.log")
        defer { nsupdate.stop(timeout: 2) }
        let captured = try #require(Self.receiveOneMessage(on: listener, seconds: 10))
        let key = try TSIGKey.load(bindKeyFile: directory + "/live.key")
        let (message, tsig) = try Self.unsigned(captured)
        let signed = try TSIGSigner(key: key, hmac: openSSLHMAC, clock: { tsig.timeSigned }).sign(message)
        #expect(signed.bytes == captured)
        #expect(signed.mac == tsig.mac)
    }

    /// Accepts one connection and reads one length-prefixed message from it.
    static func receiveOneMessage(on listener: Int32, seconds: Int32) -> [UInt8]? {
        var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, seconds * 1000) == 1 else { return nil }
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return nil }
        defer { close(connection) }
        var limit = timeval(tv_sec: Int(seconds), tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if bytes.count >= 2, bytes.count >= 2 + (Int(bytes[0]) << 8 | Int(bytes[1])) {
                return Array(bytes[2..<(2 + (Int(bytes[0]) << 8 | Int(bytes[1])))])
            }
            let n = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            bytes += chunk[..<n]
        }
    }
}
