/// Internationalized domain names in DNS queries (RFC 8616 §3: d= and s= may hold U-labels,
/// which are converted to A-labels to look the key up).
public enum IDNA {
    /// The domain with every non-ASCII label as an A-label (`xn--` + Punycode, RFC 3492),
    /// lower case. Returns nil when a label cannot be encoded.
    public static func asciiDomain(_ domain: String) -> String? {
        // Nearly every domain is ASCII already: lowercasing is all there is to do.
        if domain.utf8.allSatisfy({ $0 < 0x80 }) { return domain.lowercased() }
        var labels: [String] = []
        for label in domain.split(separator: ".", omittingEmptySubsequences: false) {
            let lower = label.lowercased()
            if lower.unicodeScalars.allSatisfy({ $0.isASCII }) {
                labels.append(lower)
            } else {
                guard let encoded = punycode(lower), encoded.utf8.count + 4 <= 63 else { return nil }
                labels.append("xn--" + encoded)
            }
        }
        return labels.joined(separator: ".")
    }

    /// RFC 3492 §6.3 Punycode encoding of one label.
    public static func punycode(_ input: String) -> String? {
        let base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700
        let scalars = input.unicodeScalars.map { Int($0.value) }
        var output: [UInt8] = scalars.filter { $0 < 0x80 }.map { UInt8($0) }
        let basicCount = output.count
        var handled = basicCount
        if basicCount > 0 { output.append(UInt8(ascii: "-")) }
        var n = 128, delta = 0, bias = 72

        func digit(_ d: Int) -> UInt8 { UInt8(d < 26 ? d + 97 : d - 26 + 48) }
        func adapt(_ delta: Int, _ count: Int, _ first: Bool) -> Int {
            var delta = first ? delta / damp : delta / 2
            delta += delta / count
            var k = 0
            while delta > ((base - tmin) * tmax) / 2 {
                delta /= base - tmin
                k += base
            }
            return k + (base - tmin + 1) * delta / (delta + skew)
        }

        while handled < scalars.count {
            guard let m = scalars.filter({ $0 >= n }).min() else { return nil }
            let (product, overflow) = (m - n).multipliedReportingOverflow(by: handled + 1)
            guard !overflow else { return nil }
            delta += product
            n = m
            for c in scalars {
                if c < n { delta += 1 }
                if c == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = k <= bias ? tmin : (k >= bias + tmax ? tmax : k - bias)
                        if q < t { break }
                        output.append(digit(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digit(q))
                    bias = adapt(delta, handled + 1, handled == basicCount)
                    delta = 0
                    handled += 1
                }
            }
            delta += 1
            n += 1
        }
        return String(decoding: output, as: UTF8.self)
    }
}
