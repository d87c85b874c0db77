/// Streaming body canonicalization (RFC 6376 §3.4.3, §3.4.4).
///
/// Feed the body in chunks of any size; the output is the same whatever the chunking.
/// Trailing empty lines are held back until more content proves they are not trailing.
/// Memory does not grow with the body: held-back empty lines are a count, and the output of
/// one chunk is at most the chunk plus a small constant.
public struct BodyCanonicalizer: Sendable {
    public let algorithm: Canonicalization
    private var sawCR = false
    private var pendingCRLFs = 0
    private var pendingSpace = false
    private var hasContent = false
    /// relaxed only: the chunk's output is written here, then handed to the sink in one piece.
    private var output: [UInt8] = []

    /// Above this many held-back empty lines, they go to the sink in pieces rather than
    /// through `output`, which therefore never needs more than the chunk plus this.
    private static let inlineCRLFLimit = 64
    private static let crlfs: [UInt8] = Array(repeating: [ASCII.cr, ASCII.lf], count: 256).flatMap { $0 }

    public init(_ algorithm: Canonicalization) {
        self.algorithm = algorithm
    }

    /// Canonicalizes the next chunk; `sink` receives the output in one or more buffers.
    public mutating func canonicalize(_ chunk: UnsafeBufferPointer<UInt8>, into sink: (UnsafeBufferPointer<UInt8>) -> Void) {
        withoutActuallyEscaping(sink) { escapable in
            var closureSink = ClosureSink(body: escapable)
            canonicalize(chunk, into: &closureSink)
        }
    }

    /// Canonicalizes the next chunk into a sink.
    public mutating func canonicalize<S: CanonicalBodySink>(_ chunk: UnsafeBufferPointer<UInt8>, into sink: inout S) {
        guard !chunk.isEmpty else { return }
        switch algorithm {
        case .simple: simpleChunk(chunk, into: &sink)
        case .relaxed: relaxedChunk(chunk, into: &sink)
        }
    }

    /// simple (§3.4.3) changes nothing but the empty lines at the end, so the chunk goes to the
    /// sink as it is, less the CRLFs (and a lone final CR) at its end, which are held back.
    private mutating func simpleChunk<S: CanonicalBodySink>(_ p: UnsafeBufferPointer<UInt8>, into sink: inout S) {
        var start = 0
        var end = p.count
        if sawCR {
            sawCR = false
            if p[0] == ASCII.lf {
                pendingCRLFs += 1
                start = 1
            } else {
                flushCRLFs(into: &sink)
                Self.crlfs.withUnsafeBufferPointer { sink.absorb(UnsafeBufferPointer(rebasing: $0[0..<1])) }  // the CR
                hasContent = true
            }
        }
        if end > start && p[end - 1] == ASCII.cr {
            sawCR = true
            end -= 1
        }
        var trailing = 0
        while end - start >= 2 && p[end - 1] == ASCII.lf && p[end - 2] == ASCII.cr {
            trailing += 1
            end -= 2
        }
        if end > start {
            flushCRLFs(into: &sink)
            sink.absorb(UnsafeBufferPointer(rebasing: p[start..<end]))
            hasContent = true
        }
        pendingCRLFs += trailing
    }

    /// Sends held-back empty lines that turned out not to be at the end.
    private mutating func flushCRLFs<S: CanonicalBodySink>(into sink: inout S) {
        Self.absorbCRLFs(pendingCRLFs, into: &sink)
        pendingCRLFs = 0
    }

    /// `count` CRLFs to the sink, in pieces of at most 256.
    private static func absorbCRLFs<S: CanonicalBodySink>(_ count: Int, into sink: inout S) {
        var left = count
        while left > 0 {
            let n = min(left, crlfs.count / 2)
            crlfs.withUnsafeBufferPointer { sink.absorb(UnsafeBufferPointer(rebasing: $0[0..<(2 * n)])) }
            left -= n
        }
    }

    /// relaxed (§3.4.4): WSP runs become one SP, WSP before a line end goes, empty lines at
    /// the end go.
    ///
    /// Two equivalent paths: a byte-by-byte state machine (the definition, used whenever
    /// something is held back and for the last few bytes of a chunk), and a fast path taken
    /// while nothing is held back, which copies eight bytes at a time up to the next byte
    /// ≤ 0x20 and settles whitespace and line ends that are followed by content on the spot.
    private mutating func relaxedChunk<S: CanonicalBodySink>(_ p: UnsafeBufferPointer<UInt8>, into sink: inout S) {
        let n = p.count
        let capacity = n + 2 * Self.inlineCRLFLimit + 16
        var out = output
        output = []
        if out.count < capacity { out = [UInt8](repeating: 0, count: capacity) }
        var sawCR = self.sawCR
        var pendingCRLFs = self.pendingCRLFs
        var pendingSpace = self.pendingSpace
        var hasContent = self.hasContent
        out.withUnsafeMutableBufferPointer { o in
            let w = o.baseAddress!
            var count = 0
            let src = p.baseAddress!

            /// Writes what is held back before new content.
            @inline(__always) func flushPending() {
                if pendingCRLFs > Self.inlineCRLFLimit {
                    sink.absorb(UnsafeBufferPointer(start: w, count: count))
                    count = 0
                    Self.absorbCRLFs(pendingCRLFs, into: &sink)
                    pendingCRLFs = 0
                }
                while pendingCRLFs > 0 {
                    w[count] = ASCII.cr
                    w[count + 1] = ASCII.lf
                    count += 2
                    pendingCRLFs -= 1
                }
                if pendingSpace {
                    w[count] = ASCII.space
                    count += 1
                    pendingSpace = false
                }
            }

            var i = 0
            while i < n {
                if !sawCR && pendingCRLFs == 0 && !pendingSpace {
                    // Fast path. Output never runs ahead of input here, and the capacity leaves
                    // room for the eight-byte stores.
                    let before = count
                    while i + 8 <= n {
                        let x = UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)
                        UnsafeMutableRawPointer(w + count).storeBytes(of: x, as: UInt64.self)
                        // Per byte, exactly: which bytes are ≤ 0x20, and which of those are a SP
                        // before an ordinary byte in the same word (kept as they are). Eight
                        // bytes without anything else are copied in one step.
                        let v = UInt64(littleEndian: x)
                        let high: UInt64 = 0x8080_8080_8080_8080
                        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
                        let ordinary = (((v & low7) &+ 0x5F5F_5F5F_5F5F_5F5F) | v) & high
                        let y = v ^ 0x2020_2020_2020_2020
                        let space = ~((((y & low7) &+ low7) | y)) & high
                        let bad = ~ordinary & high & ~(space & (ordinary >> 8))
                        if bad == 0 {
                            i += 8
                            count += 8
                            continue
                        }
                        let skip = bad.trailingZeroBitCount >> 3
                        i += skip
                        count += skip
                        let c = src[i]
                        if c == ASCII.space && i + 1 < n && src[i + 1] > ASCII.space {
                            // One SP before an ordinary byte stays.
                            w[count] = ASCII.space
                            count += 1
                            i += 1
                            continue
                        }
                        var k = i
                        while k < n && (src[k] == ASCII.space || src[k] == ASCII.tab) { k += 1 }
                        if k == n { break }
                        let d = src[k]
                        if d != ASCII.cr {
                            if k > i {
                                // WSP before content: one SP.
                                w[count] = ASCII.space
                                count += 1
                                i = k
                            } else {
                                // A control byte other than WSP and CR (a bare LF too) is content.
                                w[count] = d
                                count += 1
                                i += 1
                            }
                            continue
                        }
                        // WSP (if any) then CR LF then content: the WSP goes, the line end stays.
                        guard k + 2 < n, src[k + 1] == ASCII.lf, src[k + 2] > ASCII.space else { break }
                        w[count] = ASCII.cr
                        w[count + 1] = ASCII.lf
                        count += 2
                        i = k + 2
                    }
                    if count > before { hasContent = true }
                    if i >= n { break }
                }
                // The state machine, one byte.
                let b = src[i]
                i += 1
                if sawCR {
                    sawCR = false
                    if b == ASCII.lf {
                        pendingSpace = false  // WSP at the end of a line is removed
                        pendingCRLFs += 1
                        continue
                    }
                    flushPending()
                    w[count] = ASCII.cr
                    count += 1
                    hasContent = true
                }
                if b == ASCII.cr {
                    sawCR = true
                } else if b == ASCII.space || b == ASCII.tab {
                    pendingSpace = true
                } else {
                    flushPending()
                    w[count] = b
                    count += 1
                    hasContent = true
                }
            }
            if count > 0 { sink.absorb(UnsafeBufferPointer(start: w, count: count)) }
        }
        output = out
        self.sawCR = sawCR
        self.pendingCRLFs = pendingCRLFs
        self.pendingSpace = pendingSpace
        self.hasContent = hasContent
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
        var tail: [UInt8] = []
        if sawCR {
            // A CR at the very end is content; held-back lines and a held-back space precede it.
            sawCR = false
            flushCRLFs(into: &sink)
            if pendingSpace { tail.append(ASCII.space) }
            tail.append(ASCII.cr)
            hasContent = true
        }
        switch algorithm {
        case .simple:
            tail += ASCII.crlf
        case .relaxed:
            if hasContent { tail += ASCII.crlf }
        }
        pendingCRLFs = 0
        pendingSpace = false
        output = []
        if !tail.isEmpty { sink.absorb(tail) }
    }
}

/// Receives canonical body bytes.
public protocol CanonicalBodySink {
    mutating func absorb(_ bytes: UnsafeBufferPointer<UInt8>)
}

extension CanonicalBodySink {
    mutating func absorb(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { absorb($0) }
    }
}

private struct ClosureSink: CanonicalBodySink {
    let body: (UnsafeBufferPointer<UInt8>) -> Void
    func absorb(_ bytes: UnsafeBufferPointer<UInt8>) { body(bytes) }
}
