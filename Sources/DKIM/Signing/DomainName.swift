/// The syntax of the names DKIM puts in `d=` and `s=`, for callers that check a name before it
/// reaches a signature (key stores, tables). The rules are `TagValueSyntax`'s: one reading of
/// the ABNF for the parser, the signer and the configuration.
public enum DomainName {
    /// With `requireDot`, a `domain-name` such as example.com (RFC 6376 §3.5 `d=`); without it,
    /// a `selector` such as mail2026 or a.b (RFC 6376 §3.1 `s=`).
    public static func isValid(_ name: String, requireDot: Bool = true) -> Bool {
        requireDot ? TagValueSyntax.isDomainName(name.utf8) : TagValueSyntax.isSelector(name.utf8)
    }
}
