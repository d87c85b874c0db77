/// Where the running configuration comes from: a file (or none, the zero-configuration run) and
/// the command-line options that override it. Read by this one function at start and at every
/// reload, so an override cannot be forgotten on SIGUSR1.
public struct ConfigurationSource: Sendable {
    /// The configuration file (opendkim.conf syntax), or nil for the built-in defaults.
    public var file: String?
    /// Without a file: the key store, `DIR/DOMAIN/SELECTOR.pem`.
    public var keysDirectory = "Keys"
    public var socket: String?
    public var testRecords: String?
    public var nameserver: String?
    public var metricsListen: String?
    /// How Postfix is set up: decides the socket without a file, or with `Socket auto`.
    public var chroot = PostfixChroot.none

    public init(file: String? = nil) {
        self.file = file
    }

    /// The configuration: the file's options (or the defaults), then the overrides.
    /// - Parameter warnings: receives a line for each option accepted but not applied.
    public func load(warnings: inout [String]) throws(ConfigurationError) -> MilterConfiguration {
        var c = MilterConfiguration()
        if let file {
            c = try MilterConfiguration(file: file, warnings: &warnings)
        } else {
            c.keysDirectory = keysDirectory
            c.socket = MilterConfiguration.zeroConfigurationSocket(chroot: chroot)
        }
        if let socket {
            try MilterSocketAddress.validate(socket)
            c.socket = socket
        }
        if c.socket == MilterConfiguration.automaticSocket {
            c.socket = MilterConfiguration.zeroConfigurationSocket(chroot: chroot)
        }
        if let testRecords { c.testPublicKeys = testRecords }
        if let nameserver { c.nameservers = [nameserver] }
        if let metricsListen { c.metricsListen = metricsListen }
        return c
    }
}
