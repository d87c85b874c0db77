import DKIM
import DKIMOpenSSL
import Foundation
import Testing
@testable import DKIMDNS

/// OpenSSL's HMAC-SHA256, as `dkimkey rotate` hands it to the DNS UPDATE client.
let openSSLHMAC: TSIGSigner.HMAC = HMACSHA256.authenticationCode

extension Array where Element == UInt8 {
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self = bytes
    }
}

/// Expects `body` to throw a DKIMError of `code` and returns it.
func expectDKIMError(_ code: DKIMError.Code, sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) -> DKIMError? {
    do {
        try body()
        Issue.record("expected a DKIMError \(code), nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as DKIMError {
        #expect(error.code == code, "\(error.code): \(error.reason)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected a DKIMError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A file's text, with a mode.
func writeFile(_ text: String, to path: String, mode: mode_t = 0o600) throws {
    try #require(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
    try #require(chmod(path, mode) == 0)
}
