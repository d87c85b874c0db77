/// The bytes a DKIM signature's header hash covers (RFC 6376 §3.7): the fields `h=` names,
/// picked bottom-up and canonicalized, then the DKIM-Signature field itself with `b=` emptied,
/// without its final CRLF.
public enum HeaderHashInput {
    /// The canonicalized signed fields, in `h=` order.
    public static func signedFields(_ fields: [HeaderField], names: [String], canonicalization: Canonicalization) -> [UInt8] {
        var picker = HeaderFieldPicker(fields)
        var out: [UInt8] = []
        for index in picker.pick(names) {
            canonicalization.canonicalizeHeader(fields[index].bytes, into: &out)
        }
        return out
    }

    /// The whole input for one signature field found among `fields`.
    public static func input(_ fields: [HeaderField], signatureField: HeaderField,
                             canonicalization: Canonicalization? = nil) throws(DKIMError) -> [UInt8] {
        guard let colon = signatureField.colonIndex else {
            throw DKIMError(.signatureSyntax, "the DKIM-Signature field has no colon")
        }
        let tags = try TagList(parsing: signatureField.bytes, range: (colon + 1)..<signatureField.bytes.count)
        let signature = try DKIMSignature(parsing: tags)
        let c = canonicalization ?? signature.canonicalization.header
        return signedFields(fields, names: signature.signedHeaderNames, canonicalization: c)
            + VerificationSession.strippedSignatureField(signatureField, tags: tags, canonicalization: c)
    }
}
