import DKIMOpenSSL
import Foundation
import Testing

/// HMAC-SHA256 through OpenSSL against the test vectors of RFC 4231 §4.
@Suite struct HMACSHA256Tests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test(arguments: [
        // RFC 4231 §4.2, test case 1
        ([UInt8](repeating: 0x0B, count: 20), "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        // §4.3, test case 2: a key shorter than the hash
        (Array("Jefe".utf8), "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        // §4.7, test case 6: a key longer than the block, hashed first
        ([UInt8](repeating: 0xAA, count: 131), "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ])
    func matchesTheRFC4231Vectors(key: [UInt8], message: String, expected: String) throws {
        let code = try HMACSHA256.authenticationCode(key: key, message: Array(message.utf8))
        #expect(Self.hex(code) == expected)
    }

    /// Empty input and key are valid (Python's hmac module gives this code for both empty).
    @Test func takesAnEmptyKeyAndMessage() throws {
        let code = try HMACSHA256.authenticationCode(key: [], message: [])
        #expect(Self.hex(code) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }
}
