import DKIM
import DKIMKeyCheck
import DKIMMilterCore
import Dispatch
import Foundation

/// The published-key guard: at start, at reload and every KeyCheckInterval, every signing key's
/// record `SELECTOR._domainkey.DOMAIN` is looked up (past the cache) and judged as `dkimkey check`
/// judges it (`KeyCheck.publication`): published, missing, mismatched, revoked, or unknown when
/// DNS gave no answer, which never demotes a key. The key store chooses with it (`KeyStore.chosen`):
/// an unpublished key never signs while a published one of its domain and algorithm exists, and
/// a pending key (`dkimkey rotate`) takes over once its record is served.
enum PublishedKeyGuard {
    /// The store with what DNS says now, and one line for each key whose state changed and for
    /// each domain whose signing keys changed (logged once per change, never per message).
    static func check(_ store: KeyStore, previous: KeyStore?, resolver: any TXTResolver,
                      crypto: any DKIMCryptoProvider, deadline: DispatchTime) -> (store: KeyStore, lines: [String]) {
        let keys = store.allKeys.filter { $0.domain != "%" }
        let names = Array(Set(keys.map(\.recordName))).sorted()
        let answers = KeyLookups(names, resolver: resolver, deadline: deadline).wait().answers
        let before = previous?.publication ?? [:]
        var publication = before.filter { name, _ in names.contains(name) }
        var lines: [String] = []
        for k in keys {
            let lookup = answers[k.recordName] ?? .temporaryFailure(reason: "no answer in time")
            let (state, advice) = KeyCheck.publication(selector: k.selector, domain: k.domain, lookup: lookup,
                                                       privateKey: k.key, keyPath: k.path, crypto: crypto)
            let old = before[k.recordName]
            // DNS down: keep what was known; a key never seen published stays as it was.
            let kept = state == .unknown ? (old ?? .unknown) : state
            publication[k.recordName] = kept
            if old != kept {
                let key = "\(k.domain) s=\(k.selector) (\(k.algorithm.rawValue), \(k.lifecycle.rawValue), \(k.path))"
                lines.append(kept == .published ? "key \(key): published"
                                                : "key \(key): \(kept.rawValue): \(Printable.escaped(advice))")
            }
        }
        let checked = store.with(publication: publication)
        // Which keys each domain signs with, before and after: a rotation switches here.
        for domain in Set(keys.map(\.domain)).sorted() {
            let author = "postmaster@" + domain
            let now = checked.keys(forAuthor: author).map(\.selector)
            let then = previous?.keys(forAuthor: author).map(\.selector)
            guard let then, then != now else { continue }
            lines.append(now.isEmpty ? "\(domain): no key signs now (UnpublishedKeys skip, and none is published)"
                : "\(domain): now signing with s=\(now.joined(separator: ", s="))"
                    + (then.isEmpty ? "" : " (was s=\(then.joined(separator: ", s=")))"))
        }
        return (checked, lines)
    }
}
