/// One row of the receivers' table.
public struct ReceiverRow: Sendable, Equatable {
    public var receiver: String
    public var spf: PartState
    /// An RSA key of at least 1024 bits with its record published.
    public var dkim: PartState
    /// A DMARC record for the domain or its organization.
    public var dmarc: PartState
    /// What can align with the From domain: "DKIM", "SPF", "DKIM and SPF" or "none".
    public var aligned: String
    /// Whether the domain meets the receiver's bulk sender rules.
    public var meetsRules: Bool
    /// What the receiver does otherwise, and what else to know.
    public var note: String
    /// The one thing to do next.
    public var nextStep: String
}
