/// What the milter answers at a protocol step.
public enum MilterReply: Sendable, Equatable {
    /// Go on to the next step.
    case `continue`
    /// Accept the message; no more steps for it.
    case accept
    /// Reject the message (5xx).
    case reject
    /// Ask the client to try again later (4xx).
    case tempfail
    /// Accept, then silently drop the message.
    case discard
    /// Accept and hold the message in the MTA's quarantine.
    case quarantine(reason: String)
}

/// A change to the message's header, made at end of message.
public enum HeaderModification: Sendable, Equatable {
    /// Insert a field at a 0-based position among all header fields (0 = top).
    case insert(index: Int, name: String, value: String)
    /// Delete the `index`-th (1-based) field of that name.
    case delete(name: String, index: Int)
}

/// Everything the milter does at end of message.
public struct EndOfMessageActions: Sendable, Equatable {
    public var modifications: [HeaderModification]
    public var reply: MilterReply

    public init(modifications: [HeaderModification] = [], reply: MilterReply = .accept) {
        self.modifications = modifications
        self.reply = reply
    }
}
