import DKIM
import DKIMOpenSSL

/// Synthetic test messages of a given size, and signed copies for verify-mode runs.
public enum BenchMessages {
    /// A plain-text message of about `size` bytes from alice@example.com.
    public static func message(size: Int, serial: Int = 0) -> [UInt8] {
        var text = """
            From: Alice Example <alice@example.com>\r
            To: Bob <bob@example.org>\r
            Subject: Benchmark message \(serial) of about \(size) bytes\r
            Date: Sun, 29 Nov 2026 10:00:00 +0000\r
            Message-ID: <bench-\(serial)-\(size)@example.com>\r
            MIME-Version: 1.0\r
            Content-Type: text/plain; charset=us-ascii\r
            \r

            """
        let line = "The quick brown fox jumps over the lazy dog;  a line of text  with  spaces.\t\r\n"
        var body = ""
        while text.utf8.count + body.utf8.count < size { body += line }
        text += body
        return Array(text.utf8)
    }

    /// The message with a DKIM-Signature on top, made with a key whose record is `record`.
    public static func signed(_ message: [UInt8], key: PrivateKey, domain: String, selector: String) throws -> [UInt8] {
        let signer = DKIMSigner(configuration: SignerConfiguration(domain: domain, selector: selector, timestamp: 1_764_000_000),
                                key: key, crypto: OpenSSLCryptoProvider())
        return try signer.signatureField(for: message).bytes + [13, 10] + message
    }
}
