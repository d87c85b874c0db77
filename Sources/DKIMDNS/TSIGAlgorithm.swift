import DKIM

/// The MAC algorithm of a TSIG key (RFC 8945 §6). Only HMAC-SHA256 is supported: RFC 8945 §6
/// makes it mandatory to implement, and it is what `tsig-keygen` makes by default.
public enum TSIGAlgorithm: String, Sendable, Hashable, CustomStringConvertible {
    case hmacSHA256 = "hmac-sha256"

    /// The algorithm as `named.conf` and a key file name it (`hmac-sha256`), case aside; an
    /// algorithm other than hmac-sha256 is refused with a reason that names it.
    public init(named text: String) throws(DKIMError) {
        guard let algorithm = Self(rawValue: text.lowercased().trimmingSuffixDot) else {
            let shown = Self.isAlgorithmLike(text) ? "algorithm \(text)" : "an algorithm that is not hmac-sha256"
            throw DKIMError(.tsigKey, "the TSIG key uses \(shown); hmac-sha256 is needed (RFC 8945 §6): make a "
                            + "key with tsig-keygen -a hmac-sha256 NAME and put it in named.conf and the key file")
        }
        self = algorithm
    }

    /// The algorithm's name in TSIG records (RFC 8945 §6): `hmac-sha256.`
    var name: DNSName { DNSName(checkedLabels: [Array(rawValue.utf8)]) }

    /// The length of a full MAC, in bytes.
    var macSize: Int { 32 }

    public var description: String { rawValue }

    /// Whether text can be shown in a message as an algorithm's name: the registry's names
    /// only, never other text from the file (it might be a misplaced secret).
    private static func isAlgorithmLike(_ text: String) -> Bool {
        let known = ["hmac-md5", "hmac-md5.sig-alg.reg.int", "hmac-sha1", "hmac-sha224", "hmac-sha384",
                     "hmac-sha512", "hmac-sha256-128", "hmac-sha384-192", "hmac-sha512-256", "gss-tsig"]
        return known.contains(text.lowercased().trimmingSuffixDot)
    }
}

extension String {
    fileprivate var trimmingSuffixDot: String { hasSuffix(".") ? String(dropLast()) : self }
}
