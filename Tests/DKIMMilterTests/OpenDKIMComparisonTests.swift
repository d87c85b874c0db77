import DKIM
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import MilterClient
import Testing

/// One opendkim.conf with a KeyTable and a refile: SigningTable, run by OpenDKIM and by
/// dkim-milter: both sign with the same d=, s= and h= set, and both signatures verify.
@Suite(.serialized) struct OpenDKIMComparisonTests {
    struct Signed {
        var signature: DKIMSignature
        var results: [VerificationResult]
    }

    func sign(with executable: String, socketOption: String, arguments: [String], dir: String, name: String,
              message: [UInt8] = MilterFixtures.message) throws -> Signed {
        let socket = "unix:\(dir)/\(name).sock"
        let milter = try MilterProcess(executable: executable, arguments: arguments, socket: socket,
                                       socketOption: socketOption)
        defer { milter.stop() }
        let c = try MilterConnection(socket: socket)
        try c.negotiate()
        _ = try c.connect(hostname: "localhost", address: "127.0.0.1")
        let r = try c.send(message: message)
        #expect(r.reply == "a" || r.reply == "c", "\(name) replied \(r.reply) at \(r.repliedAt): \(milter.log)")
        var parser = MessageParser()
        var first: HeaderField?
        try parser.parse(r.message) { if case .header(let f) = $0, first == nil { first = f } }
        let field = try #require(first, "\(name) added nothing")
        #expect(field.hasName("dkim-signature"), "\(name): \(field.name)")
        let resolver = try StaticTXTResolver(parsingRecordsFile: Fixtures.text("corpus/keys.txt"))
        let results = try DKIMVerifier(resolver: resolver, crypto: OpenSSLCryptoProvider())
            .verify(message: r.message, now: Int(Date().timeIntervalSince1970)).signatures.map(\.result)
        let path = dir + "/\(name)-signed.eml"
        try Data(r.message).write(to: URL(fileURLWithPath: path))
        let dkimpy = try ProcessRunner.run("/usr/bin/python3",
                                           [Fixtures.repositoryRoot + "/Tests/InteropTests/Scripts/dkimpy_oracle.py",
                                            "verify", "--records", Fixtures.corpus + "/keys.txt", path])
        #expect(dkimpy.stdoutText.hasPrefix("1 pass"),
                "dkimpy on \(name)'s signature: \(dkimpy.stdoutText) \(dkimpy.stderr)")
        return Signed(signature: try DKIMSignature(parsing: field), results: results)
    }

    @Test func sameConfigurationGivesTheSameSignatureShapeInBoth() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        chmod(dir, 0o755)
        let key = dir + "/sr2048a.private"
        try Data(try Fixtures.bytes("corpus/keys/rsa2048a.pem")).write(to: URL(fileURLWithPath: key))
        chmod(key, 0o600)
        // OpenDKIM's TestPublicKeys format: NAME RECORD.
        let records = try Fixtures.text("corpus/keys.txt").split(separator: "\n").filter { !$0.hasPrefix("#") }
            .map { line in line.split(separator: "\t").prefix(2).joined(separator: " ") }.joined(separator: "\n") + "\n"
        try records.write(toFile: dir + "/records", atomically: true, encoding: .utf8)
        try "sr2048a._domainkey.example.com example.com:sr2048a:\(key)\n"
            .write(toFile: dir + "/KeyTable", atomically: true, encoding: .utf8)
        try "*@example.com sr2048a._domainkey.example.com\n"
            .write(toFile: dir + "/SigningTable", atomically: true, encoding: .utf8)
        try """
            Syslog                  no
            LogWhy                  yes
            Mode                    sv
            Canonicalization        relaxed/relaxed
            KeyTable                \(dir)/KeyTable
            SigningTable            refile:\(dir)/SigningTable
            InternalHosts           127.0.0.1
            SignHeaders             From,To,Subject,Date,Message-ID
            OversignHeaders         From
            TestPublicKeys          \(dir)/records
            PidFile                 \(dir)/opendkim.pid
            # OpenDKIM also checks the key's parent folders, and /tmp is writable by all.
            RequireSafeKeys         no
            """.write(toFile: dir + "/opendkim.conf", atomically: true, encoding: .utf8)

        let theirs = try sign(with: "/usr/sbin/opendkim", socketOption: "-p",
                              arguments: ["-f", "-x", dir + "/opendkim.conf"], dir: dir, name: "opendkim")
        let ours = try sign(with: MilterProcess.executable, socketOption: "--socket",
                            arguments: ["--config", dir + "/opendkim.conf"], dir: dir, name: "dkim-milter")
        #expect(ours.signature.domain == theirs.signature.domain)
        #expect(ours.signature.selector == theirs.signature.selector)
        #expect(Set(ours.signature.signedHeaderNames.map { $0.lowercased() })
                == Set(theirs.signature.signedHeaderNames.map { $0.lowercased() }))
        #expect(ours.signature.signedHeaderNames.map { $0.lowercased() }.sorted()
                == theirs.signature.signedHeaderNames.map { $0.lowercased() }.sorted())
        #expect(ours.signature.canonicalization == theirs.signature.canonicalization)
        // The same c= over the same body: the same body hash, an independent check of our body canonicalization.
        #expect(ours.signature.bodyHash.count == 32)
        #expect(Base64.encode(ours.signature.bodyHash) == Base64.encode(theirs.signature.bodyHash))
        #expect(ours.signature.bodyLength == nil && theirs.signature.bodyLength == nil)
        #expect(ours.results == [.pass])
        #expect(theirs.results == [.pass])
    }

    /// The same `dsn:pgsql` KeyTable and SigningTable lines, read by OpenDKIM (through OpenDBX's
    /// pgsql driver) and by us from one real PostgreSQL: a row whose key column holds a path and a
    /// row holding the PEM itself; both sign alike, and every signature verifies.
    @Test func sameDatabaseTablesGiveTheSameSignatureInBoth() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        chmod(dir, 0o755)
        let key = dir + "/sr2048a.private"
        let pem = try Fixtures.text("corpus/keys/rsa2048a.pem")
        try pem.write(toFile: key, atomically: true, encoding: .utf8)
        chmod(key, 0o600)
        let records = try Fixtures.text("corpus/keys.txt").split(separator: "\n").filter { !$0.hasPrefix("#") }
            .map { line in line.split(separator: "\t").prefix(2).joined(separator: " ") }.joined(separator: "\n") + "\n"
        try records.write(toFile: dir + "/records", atomically: true, encoding: .utf8)
        let pg = try PostgresServer()
        defer { pg.stop() }
        try pg.createRole("dkim", password: "s3cret")
        try pg.createDatabase("mail", owner: "postgres")
        let quotedPEM = try Fixtures.text("corpus/keys/rsa2048b.pem").replacingOccurrences(of: "'", with: "''")
        try pg.psql("""
            CREATE TABLE key_table (name text PRIMARY KEY, domain text, selector text, private_key text);
            CREATE TABLE signing_table (pattern text PRIMARY KEY, key_name text);
            GRANT SELECT ON key_table, signing_table TO dkim;
            INSERT INTO key_table VALUES ('path', 'example.com', 'sr2048a', '\(key)'),
                                         ('pem', 'example.com', 'sr2048b', '\(quotedPEM)');
            INSERT INTO signing_table VALUES ('example.com', 'path'), ('pem@example.com', 'pem');
            """, database: "mail")
        let base = "dsn:pgsql://dkim:s3cret@\(pg.port)+127.0.0.1/mail/"
        try """
            Syslog                  no
            Mode                    sv
            Canonicalization        relaxed/relaxed
            KeyTable                \(base)table=key_table?keycol=name?datacol=domain,selector,private_key
            SigningTable            \(base)table=signing_table?keycol=pattern?datacol=key_name
            InternalHosts           127.0.0.1
            SignHeaders             From,To,Subject,Date,Message-ID
            OversignHeaders         From
            TestPublicKeys          \(dir)/records
            PidFile                 \(dir)/opendkim.pid
            RequireSafeKeys         no
            """.write(toFile: dir + "/opendkim.conf", atomically: true, encoding: .utf8)
        for from in ["alice@example.com", "pem@example.com"] {
            let message = MilterFixtures.message.replacing(Array("alice@example.com".utf8), with: Array(from.utf8))
            #expect(message != MilterFixtures.message || from == "alice@example.com")
            let theirs = try sign(with: "/usr/sbin/opendkim", socketOption: "-p",
                                  arguments: ["-f", "-x", dir + "/opendkim.conf"], dir: dir, name: "opendkim",
                                  message: message)
            let ours = try sign(with: MilterProcess.executable, socketOption: "--socket",
                                arguments: ["--config", dir + "/opendkim.conf"], dir: dir, name: "dkim-milter",
                                message: message)
            #expect(ours.signature.domain == "example.com" && theirs.signature.domain == "example.com", "\(from)")
            let selector = from.hasPrefix("pem@") ? "sr2048b" : "sr2048a"
            #expect(ours.signature.selector == selector && theirs.signature.selector == selector, "\(from)")
            #expect(ours.signature.signedHeaderNames.map { $0.lowercased() }.sorted()
                == theirs.signature.signedHeaderNames.map { $0.lowercased() }.sorted(), "\(from)")
            #expect(Base64.encode(ours.signature.bodyHash) == Base64.encode(theirs.signature.bodyHash), "\(from)")
            #expect(ours.results == [.pass] && theirs.results == [.pass], "\(from)")
        }
    }
}
