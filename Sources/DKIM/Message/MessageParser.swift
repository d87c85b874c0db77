/// Splits a message, fed in chunks of any size, into header fields, the end of the
/// header section and body chunks (RFC 5322 §2.1).
///
/// With `lineEndings: .lf`, every LF is read as CRLF: that is how files saved with bare
/// LF line endings are verified and signed (they travelled with CRLF). CRLF input is
/// never rewritten.
public struct MessageParser: Sendable {
    /// How the input ends its lines.
    public enum LineEndings: Sendable {
        /// Lines end with CRLF, as in SMTP; bytes are kept exactly.
        case crlf
        /// Lines end with a bare LF; each LF is read as CRLF.
        case lf

        /// `.lf` when the bytes contain an LF but no CRLF at all, else `.crlf`.
        public static func detect<C: Collection>(in bytes: C) -> LineEndings where C.Element == UInt8 {
            var previous: UInt8 = 0
            var sawLF = false
            for b in bytes {
                if b == ASCII.lf {
                    if previous == ASCII.cr { return .crlf }
                    sawLF = true
                }
                previous = b
            }
            return sawLF ? .lf : .crlf
        }
    }

    /// What the parser found.
    public enum Event {
        case header(HeaderField)
        case endOfHeaders
        /// Body bytes, CRLF line endings; the buffer is valid only during the call.
        case body(UnsafeBufferPointer<UInt8>)
    }

    /// The largest header section accepted, in bytes.
    public let maximumHeaderBytes: Int
    /// The most header fields accepted.
    public let maximumHeaderFields: Int
    private var fieldCount = 0
    private let lineEndings: LineEndings
    private var inBody = false
    private var line: [UInt8] = []
    private var field: [UInt8] = []
    private var headerBytes = 0
    private var bodyScratch: [UInt8] = []

    public init(lineEndings: LineEndings = .crlf, maximumHeaderBytes: Int = 16 << 20, maximumHeaderFields: Int = 100_000) {
        self.lineEndings = lineEndings
        self.maximumHeaderBytes = maximumHeaderBytes
        self.maximumHeaderFields = maximumHeaderFields
    }

    /// True once the empty line that ends the header section has been seen.
    public var isInBody: Bool { inBody }

    /// Feeds the next chunk of the message.
    public mutating func parse(_ chunk: UnsafeBufferPointer<UInt8>, _ handler: (Event) throws -> Void) throws {
        var i = 0
        let n = chunk.count
        while i < n && !inBody {
            let b = chunk[i]
            i += 1
            headerBytes += 1
            if headerBytes > maximumHeaderBytes {
                throw DKIMError(.headerTooLarge, "the header section is larger than \(maximumHeaderBytes) bytes")
            }
            if b == ASCII.lf {
                if lineEndings == .lf {
                    try endLine(handler)
                    continue
                } else if line.last == ASCII.cr {
                    line.removeLast()
                    try endLine(handler)
                    continue
                }
            }
            line.append(b)
        }
        if inBody && i < n {
            try emitBody(UnsafeBufferPointer(rebasing: chunk[i..<n]), handler)
        }
    }

    /// Feeds the next chunk of the message.
    public mutating func parse(_ bytes: [UInt8], _ handler: (Event) throws -> Void) throws {
        try bytes.withUnsafeBufferPointer { try parse($0, handler) }
    }

    /// Parses a whole message held in memory; bare-LF input is detected and read as CRLF.
    public static func parseWhole(_ message: [UInt8], maximumHeaderBytes: Int = 16 << 20,
                                  _ handler: (Event) -> Void) throws(DKIMError) {
        var parser = MessageParser(lineEndings: .detect(in: message), maximumHeaderBytes: maximumHeaderBytes)
        do {
            try parser.parse(message, handler)
            try parser.finish(handler)
        } catch let error as DKIMError {
            throw error
        } catch {
            throw DKIMError(.internalError, "\(error)")
        }
    }

    /// Ends the message: a header section without an empty line after it ends here.
    public mutating func finish(_ handler: (Event) throws -> Void) throws {
        guard !inBody else { return }
        if !line.isEmpty {
            // The last header line had no line ending.
            try endLine(handler)
        }
        if !inBody {
            if !field.isEmpty { try handler(.header(HeaderField(bytes: field))) }
            field = []
            inBody = true
            try handler(.endOfHeaders)
        }
    }

    private mutating func endLine(_ handler: (Event) throws -> Void) throws {
        if line.isEmpty {
            if !field.isEmpty { try handler(.header(HeaderField(bytes: field))) }
            field = []
            inBody = true
            try handler(.endOfHeaders)
            return
        }
        if ASCII.isWSP(line[0]) && !field.isEmpty {
            field.append(contentsOf: ASCII.crlf)
            field.append(contentsOf: line)
        } else {
            if !field.isEmpty { try handler(.header(HeaderField(bytes: field))) }
            fieldCount += 1
            if fieldCount > maximumHeaderFields {
                throw DKIMError(.headerTooLarge, "the header section has more than \(maximumHeaderFields) fields")
            }
            field = line
        }
        line.removeAll(keepingCapacity: true)
    }

    private mutating func emitBody(_ bytes: UnsafeBufferPointer<UInt8>, _ handler: (Event) throws -> Void) throws {
        guard lineEndings == .lf else {
            try handler(.body(bytes))
            return
        }
        bodyScratch.removeAll(keepingCapacity: true)
        bodyScratch.reserveCapacity(bytes.count + bytes.count / 16)
        for b in bytes {
            if b == ASCII.lf { bodyScratch.append(ASCII.cr) }
            bodyScratch.append(b)
        }
        try bodyScratch.withUnsafeBufferPointer { try handler(.body($0)) }
    }
}
