extension DKIMSignature {
    /// The width lines of a new signature are folded at.
    static let foldWidth = 78

    /// The DKIM-Signature header field for this signature, folded at 78 columns, `b=` last.
    ///
    /// With `includeSignatureData: false`, `b=` is left empty: that is the form that is
    /// hashed when signing (RFC 6376 §3.7). Adding the signature afterwards changes only
    /// the bytes after the last `b=`, which the verifier empties again.
    public func headerField(includeSignatureData: Bool = true) -> HeaderField {
        var line = "DKIM-Signature:"
        var out = ""
        var column = line.utf8.count

        func newLine() {
            out += line + "\r\n"
            line = "\t"
            column = 8
        }
        func add(_ piece: String) {
            let length = piece.utf8.count
            if column + 1 + length > Self.foldWidth && column > 8 {
                newLine()
                line += piece
                column += length
            } else {
                line += " " + piece
                column += 1 + length
            }
        }

        add("v=1;")
        add("a=\(algorithm.rawValue);")
        add("c=\(canonicalization.description);")
        add("d=\(domain);")
        add("s=\(selector);")
        if let t = timestamp { add("t=\(t);") }
        if let x = expiration { add("x=\(x);") }
        if let l = bodyLength { add("l=\(l);") }
        if let i = identity { add("i=\(i);") }
        // h= may be long: fold it only after a colon, with no space inside the list.
        for (i, name) in signedHeaderNames.enumerated() {
            let text = (i == 0 ? "h=" : "") + name + (i == signedHeaderNames.count - 1 ? ";" : ":")
            if i == 0 {
                add(text)
            } else if column + text.utf8.count > Self.foldWidth {
                newLine()
                line += text
                column += text.utf8.count
            } else {
                line += text
                column += text.utf8.count
            }
        }
        add("bh=\(Base64.encode(bodyHash));")
        add("b=")
        if includeSignatureData {
            var rest = Substring(Base64.encode(signatureData))
            while !rest.isEmpty {
                let room = Self.foldWidth - column
                if room < 8 {
                    newLine()
                    continue
                }
                let chunk = rest.prefix(room)
                line += chunk
                column += chunk.utf8.count
                rest = rest.dropFirst(chunk.count)
            }
        }
        out += line
        return HeaderField(bytes: Array(out.utf8))
    }
}
