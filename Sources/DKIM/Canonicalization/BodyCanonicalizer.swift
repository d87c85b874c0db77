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
    ///
    /// Runs of ordinary bytes are copied in bulk; only line ends and (relaxed) whitespace are
    /// looked at one by one.
    public mutating func canonicalize<S: CanonicalBodySink>(_ chunk: UnsafeBufferPointer<UInt8>, into sink: inout S) {
        output.removeAll(keepingCapacity: true)
        output.reserveCapacity(chunk.count + 8)
        switch algorithm {
        case .simple: simpleChunk(chunk)
        case .relaxed: relaxedChunk(chunk)
        }
        if !output.isEmpty { output.withUnsafeBufferPointer { sink.absorb($0) } }
    }

    private mutating func simpleChunk(_ p: UnsafeBufferPointer<UInt8>) {
        let n = p.count
        var i = 0
        while i < n {
            if sawCR {
                sawCR = false
                if p[i] == ASCII.lf {
                    pendingCRLFs += 1
                    i += 1
                    continue
                }
                emitContent(ASCII.cr)
            }
            var j = i
            while j < n && p[j] != ASCII.cr { j += 1 }
            if j > i { emitRun(UnsafeBufferPointer(rebasing: p[i..<j])) }
            if j < n {
                sawCR = true
                j += 1
            }
            i = j
        }
    }

    private mutating func relaxedChunk(_ p: UnsafeBufferPointer<UInt8>) {
        let n = p.count
        var i = 0
        while i < n {
            let b = p[i]
            if sawCR {
                sawCR = false
                if b == ASCII.lf {
                    pendingSpace = false  // WSP at the end of a line is removed
                    pendingCRLFs += 1
                    i += 1
                    continue
                }
                emitContent(ASCII.cr)
            }
            if b == ASCII.cr {
                sawCR = true
                i += 1
            } else if ASCII.isWSP(b) {
                pendingSpace = true
                i += 1
            } else {
                // The run goes on over ordinary bytes and over single spaces between them, which
                // relaxed canonicalization keeps as they are.
                // CR, SP and TAB are all ≤ 0x20, so most bytes take the first test only.
                var j = i + 1
                while j < n {
                    let c = p[j]
                    if c > ASCII.space {
                        j += 1
                    } else if c == ASCII.space {
                        guard j + 1 < n else { break }
                        let d = p[j + 1]
                        guard d > ASCII.space || (d != ASCII.cr && d != ASCII.tab && d != ASCII.space) else { break }
                        j += 2
                    } else if c != ASCII.cr && c != ASCII.tab {
                        j += 1
                    } else {
                        break
                    }
                }
                emitRun(UnsafeBufferPointer(rebasing: p[i..<j]))
                i = j
            }
        }
    }

    /// A run of input bytes that canonicalization keeps as they are, copied in one go.
    @inline(__always)
    private mutating func emitRun(_ run: UnsafeBufferPointer<UInt8>) {
        flushPending()
        output.append(contentsOf: run)
        hasContent = true
    }

    @inline(__always)
    private mutating func flushPending() {
        while pendingCRLFs > 0 {
            output.append(ASCII.cr)
            output.append(ASCII.lf)
            pendingCRLFs -= 1
        }
        if pendingSpace {
            output.append(ASCII.space)
            pendingSpace = false
        }
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
        flushPending()
        output.append(b)
        hasContent = true
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
