/// Picks the header fields an `h=` list names, in `h=` order (RFC 6376 §5.4.2).
///
/// Each name takes the bottom-most instance not taken yet, so a name listed twice signs the
/// last two instances, last first. A name with no instance left contributes nothing: that
/// is how over-signing stops fields from being added later.
public struct HeaderFieldPicker {
    private var instances: [String: [Int]] = [:]

    /// - Parameter fields: the message's header fields, top to bottom.
    public init(_ fields: [HeaderField]) {
        for (i, f) in fields.enumerated() { instances[f.lowercasedName, default: []].append(i) }
    }

    /// The indexes into `fields` of the fields to hash, in hashing order.
    public mutating func pick(_ names: [String]) -> [Int] {
        var picked: [Int] = []
        for name in names {
            let key = name.lowercased()
            if var list = instances[key], let last = list.popLast() {
                picked.append(last)
                instances[key] = list
            }
        }
        return picked
    }
}
