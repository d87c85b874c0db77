import DKIM
import Testing
@testable import DKIMDNS

/// The UPDATE message (RFC 2136 §2) read back with the message reader: sections, classes and
/// TTLs as RFC 2136 prescribes, and TXT values cut into strings of at most 255 bytes.
@Suite struct DNSUpdateTests {
    static let zone = DNSName("example.test")!
    static let name = DNSName("s1._domainkey.example.test")!

    @Test(arguments: [(0, [0]), (1, [1]), (255, [255]), (256, [255, 1]), (600, [255, 255, 90])])
    func cutsAValueIntoStringsOfAtMost255Bytes(length: Int, expected: [Int]) {
        let value = String((0..<length).map { Character(UnicodeScalar(0x41 + $0 % 26)!) })
        let strings = DNSUpdate.characterStrings(value)
        #expect(strings.map(\.count) == expected)
        #expect(strings.flatMap { $0 } == Array(value.utf8))
    }

    @Test func writesTheZonePrerequisiteAndUpdateSectionsOfRFC2136() throws {
        let value = "v=DKIM1; k=rsa; p=" + String(repeating: "Q", count: 400)
        let update = DNSUpdate(zone: Self.zone, prerequisites: [.nameIsInUse(Self.name), .nameIsNotInUse(Self.name)],
                               changes: [.deleteRecords(Self.name, type: .txt),
                                         .addTXT(Self.name, value: value, ttl: 600), .deleteName(Self.name)])
        let bytes = try update.message(id: 0xBEEF)
        let message = try #require(DNSMessage(bytes))
        #expect(message.id == 0xBEEF && !message.isResponse && message.opcode == 5)
        // Zone section: one entry, the zone's SOA in class IN (§2.3).
        #expect(message.questions == [DNSResponse.Question(name: Self.zone, type: 6, recordClass: 1)])
        // Prerequisites (in the answer section's place): in use is ANY/ANY, not in use NONE/ANY (§2.4.4, §2.4.5).
        #expect(message.answers.map { [$0.type, $0.recordClass] } == [[255, 255], [255, 254]])
        // Updates (in the authority section's place): delete RRset ANY/TXT (§2.5.2), add IN/TXT (§2.5.1),
        // delete name ANY/ANY (§2.5.3); TTL 0 and no RDATA except for the addition.
        let updates = message.authority
        #expect(updates.map { [$0.type, $0.recordClass] } == [[16, 255], [16, 1], [255, 255]])
        #expect(updates.map(\.ttl) == [0, 600, 0])
        #expect(updates.map(\.data.count) == [0, value.utf8.count + 2, 0])
        #expect(updates.allSatisfy { $0.owner == Self.name } && message.answers.allSatisfy { $0.owner == Self.name })
        #expect(message.additional.isEmpty)
        // The added record's RDATA: two strings, each after its length, joined back to the value.
        let data = Array(bytes[updates[1].data])
        #expect(data[0] == 255 && data[256] == 163)
        #expect(String(decoding: data[1..<256] + data[257...], as: UTF8.self) == value)
    }

    @Test func refusesANameOutsideTheZone() {
        let other = DNSName("s1._domainkey.example.org")!
        let error = expectDKIMError(.invalidArgument) {
            _ = try DNSUpdate(zone: Self.zone, changes: [.deleteRecords(other, type: .txt)]).message(id: 1)
        }
        #expect(error?.reason.contains("s1._domainkey.example.org is not in the zone example.test") == true)
        // A label that only ends like the zone is not in it.
        #expect(!DNSName("badexample.test")!.isWithin(Self.zone))
        #expect(Self.name.isWithin(Self.zone) && Self.zone.isWithin(Self.zone))
    }

    @Test func refusesATTLAboveTwoToThe31() {
        let error = expectDKIMError(.invalidArgument) {
            _ = try DNSUpdate(zone: Self.zone, changes: [.addTXT(Self.name, value: "v=DKIM1; p=", ttl: 1 << 31)])
                .message(id: 1)
        }
        #expect(error?.reason.contains("RFC 2181 §8") == true)
    }
}
