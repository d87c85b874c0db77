/// Splits a message, fed in chunks of any size, into header fields, the end of the
/// header section and body chunks (RFC 5322 §2.1).
///
/// Every line is read on its own: a line ends at CRLF, or at a bare LF (one not preceded by CR),
/// which is read as CRLF, in the header and in the body alike. RFC 6376 §5.3: bare line endings
/// MUST be converted to CRLF before signing, and verifiers of stored files do the same. So a file
/// that is all CRLF is read byte for byte, an all-LF file as if every LF were CRLF, and a mixed
/// one (a CRLF signature field on top of an LF file) line by line. A bare CR is an ordinary byte.
public struct MessageParser: Sendable {
    /// How a file ends its lines, for writing new lines (a signature) in the same style.
    public enum LineEndings: Sendable {
        /// Lines end with CRLF, as in SMTP (also for files that mix both).
        case crlf
        /// Lines end with a bare LF only.
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
    private var inBody = false
    /// The last body byte passed on (LF at the start of the body), to tell CRLF from a bare LF
    /// across chunk boundaries.
    private var previousBodyByte = ASCII.lf
    private var line: [UInt8] = []
    private var field: [UInt8] = []
    private var headerBytes = 0
    private var bodyScratch: [UInt8] = []

    public init(maximumHeaderBytes: Int = 16 << 20, maximumHeaderFields: Int = 100_000) {
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
                // CRLF or a bare LF: either ends the line.
                if line.last == ASCII.cr { line.removeLast() }
                try endLine(handler)
                continue
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

    /// Parses a whole message held in memory; bare LF line endings are read as CRLF.
    public static func parseWhole(_ message: [UInt8], maximumHeaderBytes: Int = 16 << 20,
                                  _ handler: (Event) -> Void) throws(DKIMError) {
        var parser = MessageParser(maximumHeaderBytes: maximumHeaderBytes)
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

    /// Passes body bytes on with every bare LF written as CRLF; a chunk without a bare LF
    /// (every all-CRLF body) is passed on as it lies, without a copy.
    private mutating func emitBody(_ bytes: UnsafeBufferPointer<UInt8>, _ handler: (Event) throws -> Void) throws {
        guard let last = bytes.last else { return }
        guard let firstBare = Self.firstBareLF(in: bytes, previous: previousBodyByte) else {
            previousBodyByte = last
            try handler(.body(bytes))
            return
        }
        bodyScratch.removeAll(keepingCapacity: true)
        bodyScratch.reserveCapacity(bytes.count + bytes.count / 16 + 1)
        bodyScratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[..<firstBare]))
        var previous = firstBare == 0 ? previousBodyByte : bytes[firstBare - 1]
        for b in UnsafeBufferPointer(rebasing: bytes[firstBare...]) {
            if b == ASCII.lf && previous != ASCII.cr { bodyScratch.append(ASCII.cr) }
            bodyScratch.append(b)
            previous = b
        }
        previousBodyByte = last
        try bodyScratch.withUnsafeBufferPointer { try handler(.body($0)) }
    }

    /// The index of the first LF not preceded by CR, if any.
    private static func firstBareLF(in bytes: UnsafeBufferPointer<UInt8>, previous: UInt8) -> Int? {
        var from = 0
        while let i = bytes[from...].firstIndex(of: ASCII.lf) {
            if (i == 0 ? previous : bytes[i - 1]) != ASCII.cr { return i }
            from = i + 1
        }
        return nil
    }
}
