/// One way through a throwaway Postfix: with no milter, with the null milter (libmilter and
/// Postfix's own floor), with the null milter making one RSA signature per message (the floor under
/// any libmilter signer), with dkim-milter signing, verifying, passing unsigned mail in verify mode
/// (nothing to sign or check: only `dkim=none` is added, as `dkim-bench milter`'s pass), or
/// leaving outside mail untouched in sign-only mode (accepted at end of headers), or with
/// OpenDKIM signing (the same key and configuration).
public enum PostfixPath: String, CaseIterable, Sendable {
    case none = "no milter"
    case null = "null milter"
    case nullSign = "null milter + RSA signature"
    case sign = "dkim-milter sign"
    case verify = "dkim-milter verify"
    case pass = "dkim-milter pass"
    case untouched = "dkim-milter untouched"
    case opendkim = "OpenDKIM sign"

    /// The name on the command line (`--paths none,null,sign,verify,pass,opendkim`).
    public var option: String {
        switch self {
        case .none: "none"
        case .null: "null"
        case .nullSign: "null-sign"
        case .sign: "sign"
        case .verify: "verify"
        case .pass: "pass"
        case .untouched: "untouched"
        case .opendkim: "opendkim"
        }
    }

    public init?(option: String) {
        guard let p = Self.allCases.first(where: { $0.option == option }) else { return nil }
        self = p
    }

    /// The milter Postfix is given, nil for none.
    public var milter: MilterUnderTest.Kind? {
        switch self {
        case .none: nil
        case .null: .null
        case .nullSign: .nullSign
        case .sign, .verify, .pass, .untouched: .dkimMilter
        case .opendkim: .opendkim
        }
    }

    /// The milter's mode: sign (127.0.0.1 is internal), verify (Mode v, a signed message), pass
    /// (Mode v, an unsigned message: nothing to sign or check).
    public var mode: LoadRunner.Mode {
        switch self {
        case .verify: .verify
        case .pass: .pass
        default: .sign
        }
    }

    /// The milter's InternalHosts: for `untouched` (sign-only mode) not 127.0.0.1, so that the mail
    /// from smtp-source is from outside and neither signed nor verified.
    public var internalHosts: String { self == .untouched ? "192.0.2.1" : "127.0.0.1" }

    /// Whether smtp-source sends the signed copy of the message.
    public var sendsSignedMessage: Bool { self == .verify }

    public var expectation: DeliveryCheck.Expectation {
        switch self {
        case .sign, .opendkim: .signed
        case .verify: .results("dkim=pass")
        case .pass: .results("dkim=none")
        case .nullSign: .addedField("X-Floor-Signature")
        case .none, .null, .untouched: .unchanged
        }
    }
}
