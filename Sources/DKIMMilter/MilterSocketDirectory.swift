import DKIMMilterCore
import Foundation
import Glibc

/// Who may reach a unix-domain milter socket.
///
/// The milter protocol has no authentication: whoever connects can have any message signed with
/// our keys (issue 18). Linux lets a process connect to a unix socket only when it can search
/// every directory on the path and write the socket (unix(7)), so the socket's directory is
/// made mode 0750 and the socket 0660, both of group `postfix` where that group exists: root,
/// the milter's user and Postfix get in, other local users do not.
enum MilterSocketDirectory {
    /// The group Postfix's daemons run as (Debian's `postfix` package).
    static let postfixGroup = "postfix"
    static let directoryMode: mode_t = 0o750
    static let socketMode: mode_t = 0o660

    /// The path of a `local:` or `unix:` socket; nil for `inet:` and `inet6:`.
    static func unixPath(of socket: String) -> String? {
        let lower = socket.lowercased()
        guard lower.hasPrefix("local:") || lower.hasPrefix("unix:") else { return nil }
        return String(socket.drop(while: { $0 != ":" }).dropFirst())
    }

    /// Makes the socket's directory when it is missing (one level: its parent must exist), mode
    /// 0750, owned by `userID`'s user (or root) and group postfix, so that the milter's user keeps
    /// it after dropping root. An existing directory is left as it is.
    static func prepare(socketPath path: String, userID: String?) throws(ConfigurationError) {
        let directory = (path as NSString).deletingLastPathComponent
        guard !directory.isEmpty else { return }
        var st = stat()
        if stat(directory, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw ConfigurationError("the socket directory \(directory) is not a directory; remove it, or choose "
                    + "another socket with --socket local:/path (Socket in a configuration file)")
            }
            return
        }
        guard mkdir(directory, directoryMode) == 0 || errno == EEXIST else {
            let why = String(cString: strerror(errno))
            let owner = userID.map { String($0.prefix { $0 != ":" }) } ?? "$(id -un)"
            throw ConfigurationError("cannot create the socket directory \(directory): \(why). Fix: start "
                + "dkim-milter as root (it makes \(directory) itself, group \(postfixGroup), mode 0750, and then "
                + "drops to UserID), or make it once: install -d -m 0750 -o \(owner) -g \(postfixGroup) "
                + "\(directory); or choose another socket with --socket local:/path (Socket in a configuration file)")
        }
        _ = chmod(directory, directoryMode)  // mkdir's mode is cut by the umask
        var owner = geteuid()
        var group = getegid()
        if let userID, let pw = getpwnam(String(userID.prefix { $0 != ":" })) {
            owner = pw.pointee.pw_uid
            group = pw.pointee.pw_gid
        }
        if let postfix = getgrnam(postfixGroup) { group = postfix.pointee.gr_gid }
        // As root any owner works; otherwise only a group we belong to, and a failure keeps ours.
        if chown(directory, owner, group) != 0 { _ = chown(directory, uid_t.max, group) }
    }

    /// Narrows a just-opened socket: group postfix where that group exists (and we may give it),
    /// and mode 0660 unless the configuration sets a UMask of its own.
    static func restrict(socketPath path: String, umaskConfigured: Bool) {
        if let postfix = getgrnam(postfixGroup) { _ = chown(path, uid_t.max, postfix.pointee.gr_gid) }
        if !umaskConfigured { _ = chmod(path, socketMode) }
    }

    /// A warning when Postfix cannot reach the socket: its directory is neither of group postfix
    /// nor searchable by others, so smtpd (user postfix) gets "Permission denied".
    static func reachabilityWarning(socketPath path: String) -> String? {
        guard let postfix = getgrnam(postfixGroup) else { return nil }
        let gid = postfix.pointee.gr_gid
        let directory = (path as NSString).deletingLastPathComponent
        var d = stat()
        var s = stat()
        guard stat(directory, &d) == 0, stat(path, &s) == 0 else { return nil }
        let directoryOK = (d.st_gid == gid && d.st_mode & 0o010 != 0) || d.st_mode & 0o001 != 0
        let socketOK = (s.st_gid == gid && s.st_mode & 0o020 != 0) || s.st_mode & 0o002 != 0
        if directoryOK && socketOK { return nil }
        let what = directoryOK ? "the socket \(path)" : "the directory \(directory)"
        let fix = directoryOK ? "chgrp \(postfixGroup) \(path) && chmod 0660 \(path)"
                              : "chgrp \(postfixGroup) \(directory) && chmod 0750 \(directory)"
        return "Postfix (group \(postfixGroup)) cannot reach \(what); fix: \(fix)"
    }
}
