extension DKIMSignature {
    /// The width lines of a new signature are folded at.
    static let foldWidth = 78

    /// The DKIM-Signature header field for this signature, folded at 78 columns, `b=` last.
    ///
    /// With `includeSignatureData: false`, `b=` is left empty: that is the form that is
    /// hashed when signing (RFC 6376 §3.7). Adding the signature afterwards changes only
    /// the bytes after the last `b=`, which the verifier empties again.
    public func headerField(includeSignatureData: Bool = true) -> HeaderField {
        var writer = FoldingWriter(width: Self.foldWidth)
        writer.start("DKIM-Signature:")
        writer.tag("v=1;")
        writer.tag("a=" + algorithm.rawValue + ";")
        writer.tag("c=" + canonicalization.description + ";")
        writer.tag("d=" + domain + ";")
        writer.tag("s=" + selector + ";")
        if let t = timestamp { writer.tag("t=\(t);") }
        if let x = expiration { writer.tag("x=\(x);") }
        if let l = bodyLength { writer.tag("l=\(l);") }
        // RFC 6376 §3.5: i= is dkim-quoted-printable.
        if let i = identity { writer.tag("i=" + TagValueSyntax.encodeQuotedPrintable(i.utf8) + ";") }
        // h= may be long: fold it only after a colon, with no space inside the list.
        for (i, name) in signedHeaderNames.enumerated() {
            let text = (i == 0 ? "h=" : "") + name + (i == signedHeaderNames.count - 1 ? ";" : ":")
            if i == 0 { writer.tag(text) } else { writer.continuation(text) }
        }
        // z= (RFC 6376 §3.5): folded only between whole characters or =XX escapes, and after "|".
        if let copies = copiedHeaders, !copies.isEmpty {
            for (i, copy) in copies.enumerated() {
                let pieces = copy.encodedPieces
                writer.tag((i == 0 ? "z=" : "|") + pieces[0])
                for piece in pieces.dropFirst() { writer.continuation(piece) }
            }
            writer.continuation(";")
        }
        writer.tag("bh=" + Base64.encode(bodyHash) + ";")
        writer.tag("b=")
        if includeSignatureData { writer.breakable(Array(Base64.encode(signatureData).utf8)) }
        return HeaderField(bytes: writer.bytes)
    }
}

/// Writes `tag=value;` pieces on lines of at most `width` columns, folding with CRLF TAB.
struct FoldingWriter {
    let width: Int
    var bytes: [UInt8] = []
    var column = 0

    init(width: Int) {
        self.width = width
        bytes.reserveCapacity(640)
    }

    mutating func start(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        column = text.utf8.count
    }

    private mutating func newLine() {
        bytes.append(contentsOf: [0x0D, 0x0A, 0x09])
        column = 8
    }

    /// A tag, after a space, on a new line when it does not fit.
    mutating func tag(_ text: String) {
        let n = text.utf8.count
        if column + 1 + n > width && column > 8 {
            newLine()
        } else {
            bytes.append(ASCII.space)
            column += 1
        }
        bytes.append(contentsOf: text.utf8)
        column += n
    }

    /// More of the same value, with no space before it; folded when it does not fit.
    mutating func continuation(_ text: String) {
        let n = text.utf8.count
        if column + n > width { newLine() }
        bytes.append(contentsOf: text.utf8)
        column += n
    }

    /// A value that may be broken anywhere (base64).
    mutating func breakable(_ value: [UInt8]) {
        var offset = 0
        while offset < value.count {
            let room = width - column
            if room < 8 {
                newLine()
                continue
            }
            let take = min(room, value.count - offset)
            bytes.append(contentsOf: value[offset..<(offset + take)])
            column += take
            offset += take
        }
    }
}
