import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMMilterCore

/// One table of options (ConfigurationOption.all) is the source of truth: the parser, the
/// documentation and the example configuration are checked against it.
@Suite struct ConfigurationOptionTests {
    func parse(_ text: String) throws -> (MilterConfiguration, [String]) {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        try text.write(toFile: dir + "/c.conf", atomically: true, encoding: .utf8)
        var warnings: [String] = []
        let c = try MilterConfiguration(file: dir + "/c.conf", warnings: &warnings)
        return (c, warnings)
    }

    @Test func namesAreUniqueWithoutRegardToCase() {
        let names = ConfigurationOption.all.map { $0.name.lowercased() }
        #expect(Set(names).count == names.count)
    }

    @Test func everyHonouredOptionParsesAndEveryIgnoredOneWarnsWithItsReason() throws {
        for option in ConfigurationOption.all {
            switch option.status {
            case .honoured:
                #expect(option.apply != nil, "\(option.name)")
            case .ignored(let why):
                let (_, warnings) = try parse("\(option.name) yes\n")
                #expect(warnings == [warnings.first ?? ""] && warnings.first?.hasSuffix("ignored: \(why)") == true,
                        "\(option.name): \(warnings)")
            }
        }
    }

    /// LogWhy was listed as honoured but never read: it is now listed as ignored, with the reason.
    @Test func logWhyIsListedAsIgnored() throws {
        #expect(ConfigurationOption.named("logwhy")?.status == .ignored(why:
            "every message's log line already gives its decision and the reason"))
        #expect(ConfigurationOption.named("QueryCache").map { "\($0.status)".contains("always on") } == true)
    }

    @Test func anUnknownOptionIsAnErrorNamingTheLineAndWhereTheListIs() {
        #expect {
            _ = try parse("Mode sv\nNoSuchOption 1\n")
        } throws: { error in
            let text = "\(error)"
            return text.contains("c.conf:2: NoSuchOption: unknown option") && text.contains("--list-options")
        }
    }

    /// contrib/MIGRATING.md holds exactly the table's lists, between its markers.
    @Test func migratingGuideListsExactlyTheTable() throws {
        let guide = try String(contentsOfFile: Fixtures.repositoryRoot + "/contrib/MIGRATING.md", encoding: .utf8)
        let begin = try #require(guide.range(of: "<!-- options:begin -->\n"))
        let end = try #require(guide.range(of: "<!-- options:end -->"))
        #expect(String(guide[begin.upperBound..<end.lowerBound]) == ConfigurationOption.markdown(),
                "regenerate with: dkim-milter --list-options markdown")
    }

    /// The example configuration uses only honoured options, and parses without a warning.
    @Test func exampleConfigurationParsesWithoutWarnings() throws {
        let text = try String(contentsOfFile: Fixtures.repositoryRoot + "/contrib/dkim-milter.conf.example",
                              encoding: .utf8)
        var names: [String] = []
        for line in text.split(separator: "\n")
            where !line.hasPrefix("#") && !line.trimmingCharacters(in: .whitespaces).isEmpty {
            names.append(String(line.split(separator: " ").first ?? ""))
        }
        #expect(!names.isEmpty)
        for name in names { #expect(ConfigurationOption.named(name)?.status == .honoured, "\(name)") }
        let (_, warnings) = try parse(text)
        #expect(warnings.isEmpty, "\(warnings)")
    }

    /// Command-line overrides are applied by one function, the same at start and at reload.
    @Test func overridesAreAppliedOverTheFile() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        try "Socket inet:8891@127.0.0.1\nNameservers 192.0.2.1\n".write(toFile: dir + "/c.conf", atomically: true,
                                                                         encoding: .utf8)
        var source = ConfigurationSource(file: dir + "/c.conf")
        source.socket = "local:\(dir)/s.sock"
        source.nameserver = "127.0.0.1:5353"
        source.testRecords = dir + "/records.txt"
        var warnings: [String] = []
        let c = try source.load(warnings: &warnings)
        #expect(c.socket == "local:\(dir)/s.sock")
        #expect(c.nameservers == ["127.0.0.1:5353"])
        #expect(c.testPublicKeys == dir + "/records.txt")
        var zero = ConfigurationSource()
        zero.keysDirectory = dir
        let z = try zero.load(warnings: &warnings)
        #expect(z.keysDirectory == dir && z.socket == MilterConfiguration.defaultSocket)
    }

    /// dkim-milter.conf(5) is the table too: every option under its name with its line, the
    /// ignored ones after the honoured ones, and man(1) renders it without a warning.
    @Test func theManualPageListsEveryOptionWithItsLineAndRendersCleanly() throws {
        let page = ConfigurationOption.manual(date: "December 1, 2026")
        #expect(page.hasPrefix(".Dd December 1, 2026\n.Dt DKIM-MILTER.CONF 5\n"))
        let ignoredAt = try #require(page.range(of: ".Ss Accepted but not applied"))
        for option in ConfigurationOption.all {
            let entry = try #require(
                page.range(of: ".It Cm \(option.name)\n\(ConfigurationOption.roffText(option.doc))\n"),
                "\(option.name)")
            #expect((entry.lowerBound > ignoredAt.lowerBound) == (option.status != .honoured), "\(option.name)")
        }
        #expect(ConfigurationOption.roffText(".a \\ b") == "\\&.a \\e b")
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        try page.write(toFile: dir + "/dkim-milter.conf.5", atomically: true, encoding: .utf8)
        let man = try ProcessRunner.run("/usr/bin/man", ["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z",
                                                          dir + "/dkim-milter.conf.5"])
        #expect(man.status == 0 && man.stderr.isEmpty, "\(man.stderr)")
    }

    /// The configuration the package installs (contrib/dkim-milter.conf) uses only honoured options
    /// and parses without a warning.
    @Test func thePackagedConfigurationParsesWithoutWarnings() throws {
        let text = try String(contentsOfFile: Fixtures.repositoryRoot + "/contrib/dkim-milter.conf", encoding: .utf8)
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let name = String(line.split(separator: " ").first ?? "")
            #expect(ConfigurationOption.named(name)?.status == .honoured, "\(name)")
        }
        let (c, warnings) = try parse(text)
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(c.socket == MilterConfiguration.automaticSocket && c.keysDirectory == "/etc/dkim-milter/keys")
    }
}
