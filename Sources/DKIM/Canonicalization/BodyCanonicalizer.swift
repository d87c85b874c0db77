/// Streaming body canonicalization (RFC 6376 §3.4.3, §3.4.4).
///
/// Feed the body in chunks of any size; the output is the same whatever the chunking.
/// Trailing empty lines are held back until more content proves they are not trailing.
public struct BodyCanonicalizer: Sendable {
    public let algorithm: Canonicalization
    private var sawCR = false
    private var pendingCRLFs = 0
    private var pendingSpace = false
    private var hasContent = false
    private var output: [UInt8] = []

    public init(_ algorithm: Canonicalization) {
        self.algorithm = algorithm
    }

    /// Canonicalizes the next chunk; `sink` receives zero or one buffer of output.
    public mutating func canonicalize(_ chunk: UnsafeBufferPointer<UInt8>, into sink: (UnsafeBufferPointer<UInt8>) -> Void) {
        withoutActuallyEscaping(sink) { escapable in
            var closureSink = ClosureSink(body: escapable)
            canonicalize(chunk, into: &closureSink)
        }
    }

    /// Canonicalizes the next chunk into a sink.
    public mutating func canonicalize<S: CanonicalBodySink>(_ chunk: UnsafeBufferPointer<UInt8>, into sink: inout S) {
        output.removeAll(keepingCapacity: true)
        output.reserveCapacity(chunk.count + 8)
        switch algorithm {
        case .simple: for b in chunk { simple(b) }
        case .relaxed: for b in chunk { relaxed(b) }
        }
        if !output.isEmpty { output.withUnsafeBufferPointer { sink.absorb($0) } }
    }

    /// Canonicalizes the next chunk.
    public mutating func canonicalize(_ chunk: [UInt8], into sink: (UnsafeBufferPointer<UInt8>) -> Void) {
        chunk.withUnsafeBufferPointer { canonicalize($0, into: sink) }
    }

    /// Ends the body.
    ///
    /// simple: exactly one CRLF ends the canonical body, also when the body is empty (§3.4.3).
    /// relaxed: an empty body stays empty; otherwise one CRLF ends it (§3.4.4).
    public mutating func finish(into sink: (UnsafeBufferPointer<UInt8>) -> Void) {
        withoutActuallyEscaping(sink) { escapable in
            var closureSink = ClosureSink(body: escapable)
            finish(into: &closureSink)
        }
    }

    /// Ends the body into a sink.
    public mutating func finish<S: CanonicalBodySink>(into sink: inout S) {
        output.removeAll(keepingCapacity: true)
        if sawCR {
            sawCR = false
            emitContent(ASCII.cr)
        }
        switch algorithm {
        case .simple:
            output.append(contentsOf: ASCII.crlf)
        case .relaxed:
            if hasContent { output.append(contentsOf: ASCII.crlf) }
        }
        pendingCRLFs = 0
        pendingSpace = false
        if !output.isEmpty { output.withUnsafeBufferPointer { sink.absorb($0) } }
    }

    @inline(__always)
    private mutating func emitContent(_ b: UInt8) {
        while pendingCRLFs > 0 {
            output.append(ASCII.cr)
            output.append(ASCII.lf)
            pendingCRLFs -= 1
        }
        if pendingSpace {
            output.append(ASCII.space)
            pendingSpace = false
        }
        output.append(b)
        hasContent = true
    }

    @inline(__always)
    private mutating func simple(_ b: UInt8) {
        if sawCR {
            sawCR = false
            if b == ASCII.lf {
                pendingCRLFs += 1
                return
            }
            emitContent(ASCII.cr)
        }
        if b == ASCII.cr {
            sawCR = true
        } else {
            emitContent(b)
        }
    }

    @inline(__always)
    private mutating func relaxed(_ b: UInt8) {
        if sawCR {
            sawCR = false
            if b == ASCII.lf {
                pendingSpace = false  // WSP at the end of a line is removed
                pendingCRLFs += 1
                return
            }
            emitContent(ASCII.cr)
        }
        if b == ASCII.cr {
            sawCR = true
        } else if ASCII.isWSP(b) {
            pendingSpace = true
        } else {
            emitContent(b)
        }
    }
}

/// Receives canonical body bytes.
public protocol CanonicalBodySink {
    mutating func absorb(_ bytes: UnsafeBufferPointer<UInt8>)
}

private struct ClosureSink: CanonicalBodySink {
    let body: (UnsafeBufferPointer<UInt8>) -> Void
    func absorb(_ bytes: UnsafeBufferPointer<UInt8>) { body(bytes) }
}
