import Foundation

/// RequireSafeKeys: who may own and change a private key file and the directories above it.
///
/// A key is only as safe as the path to it: whoever can write a directory on the way can rename
/// the key (or a directory holding it) away and put their own in its place, and whoever owns a
/// file or directory can change its mode. The rules follow OpenDKIM's `dkimf_securefile`, which
/// resolves the path with realpath() and checks every directory from / down:
/// - the key file is owned by root or the milter's user, and not readable or writable by anyone
///   else (mode 0600 or 0400);
/// - every directory from / to the key is owned by root or the milter's user, and not writable
///   by its group or by others, except a sticky directory owned by root such as /tmp (others
///   may add names there but not rename or remove ours: rename(2) and unlink(2) need the
///   entry's or the directory's owner).
///
/// Where we differ from OpenDKIM, we are simpler or stricter, and each message names the fix:
/// - OpenDKIM accepts a group-writable directory whose group holds no other user, which needs a
///   walk of the whole user database (slow with NSS/LDAP, and wrong once a user is added); we
///   refuse it (`chmod go-w DIR`).
/// - OpenDKIM refuses every directory writable by others, /tmp included; we accept a sticky one
///   owned by root, for the reason above.
/// - OpenDKIM checks a directory's owner only if its owner-write bit is set and stops at the
///   first directory nobody else may enter; the owner can set that bit again, so we check the
///   owner of every directory.
/// - OpenDKIM stats the path and compares inodes after opening it; we open the key with
///   O_NOFOLLOW, check the open descriptor (fstat), and require that it is the very file found
///   in the checked directory (same device and inode), so what is checked is what is read.
/// - The key file and the directory holding it must not be symbolic links (a link there chooses
///   the key, and whoever can change the link chooses it next time); links higher up (such as
///   /etc/ssl) are resolved and the directories they lead to are checked.
public struct KeyFileSafety: Sendable {
    /// Root, the current effective user, and the UserID the milter runs as.
    let trustedOwners: Set<uid_t>
    /// The milter's user, for `chown NAME KEY`.
    let userName: String

    /// - Parameter userID: the configured `UserID` (`user` or `user:group`), if any.
    public init(userID: String?) throws(ConfigurationError) {
        var owners: Set<uid_t> = [0, geteuid()]
        if let userID {
            let name = String(userID.split(separator: ":").first ?? "")
            guard let pw = getpwnam(name) else {
                throw ConfigurationError("UserID \(userID): there is no user \(name); RequireSafeKeys needs the "
                    + "milter's user to check who owns the keys (create it with adduser --system \(name))")
            }
            owners.insert(pw.pointee.pw_uid)
            userName = name
        } else {
            userName = Self.name(of: geteuid())
        }
        trustedOwners = owners
    }

    /// Checks the open key file `st` (from fstat) found at `path`.
    func check(keyFile path: String, _ st: stat, context: String) throws(ConfigurationError) {
        guard trustedOwners.contains(st.st_uid) else {
            throw ConfigurationError("\(context): the key file \(path) is owned by \(Self.describe(st.st_uid)), "
                + "not by root or the milter's user (\(userName)), so that user can change the key; "
                + "fix it with: chown \(userName) \(path)")
        }
        guard st.st_mode & 0o077 == 0 else {
            throw ConfigurationError("\(context): the key file \(path) can be read or written by other users "
                + "(mode \(String(st.st_mode & 0o777, radix: 8))); fix it with: chmod 600 \(path) "
                + "(and chown it to the milter's user)")
        }
    }

    /// Checks the directories from / down to the one holding `path`, and that the file there is
    /// still the open one (`opened`, from fstat).
    func check(directoriesAbove path: String, opened: stat, context: String) throws(ConfigurationError) {
        let slash = path.lastIndex(of: "/")
        let holder = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var st = stat()
        guard lstat(holder, &st) == 0 else {
            throw ConfigurationError("\(context): cannot examine the directory \(holder) of the key file \(path): "
                + String(cString: strerror(errno)))
        }
        guard st.st_mode & S_IFMT != S_IFLNK else {
            let target = Self.resolved(holder) ?? "its target"
            throw ConfigurationError("\(context): the directory \(holder) holding the key file \(path) is a "
                + "symbolic link (to \(target)); RequireSafeKeys does not follow links to keys. Fix it by "
                + "replacing the link with the directory itself: rm \(holder) && mv \(target) \(holder)")
        }
        guard let real = Self.resolved(holder) else {
            throw ConfigurationError("\(context): cannot resolve the directory \(holder) of the key file \(path): "
                + String(cString: strerror(errno)))
        }
        var directory = "/"
        try check(directory: directory, above: path, context: context)
        for component in real.split(separator: "/") {
            directory += (directory == "/" ? "" : "/") + component
            try check(directory: directory, above: path, context: context)
        }
        // The file in the checked directory must be the one that was opened.
        guard lstat(real + (real == "/" ? "" : "/") + name, &st) == 0,
              st.st_dev == opened.st_dev, st.st_ino == opened.st_ino else {
            throw ConfigurationError("\(context): the key file \(path) was replaced while it was being checked; "
                + "find out who changes it, then load the keys again")
        }
    }

    private func check(directory: String, above path: String, context: String) throws(ConfigurationError) {
        var st = stat()
        guard lstat(directory, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw ConfigurationError("\(context): the directory \(directory) above the key file \(path) changed "
                + "while it was being checked; load the keys again")
        }
        guard trustedOwners.contains(st.st_uid) else {
            throw ConfigurationError("\(context): the directory \(directory) above the key file \(path) is owned "
                + "by \(Self.describe(st.st_uid)), who could replace the key; fix it with: chown root \(directory)")
        }
        let writableByOthers = st.st_mode & 0o022 != 0
        let stickyAndRoots = st.st_mode & S_ISVTX != 0 && st.st_uid == 0
        guard !writableByOthers || stickyAndRoots else {
            throw ConfigurationError("\(context): the directory \(directory) above the key file \(path) can be "
                + "written by other users (mode \(String(st.st_mode & 0o7777, radix: 8))), who could replace the "
                + "key; fix it with: chmod go-w \(directory)")
        }
    }

    /// The path with every link, `.` and `..` resolved; nil if it cannot be.
    static func resolved(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// A user's name, or `uid N` for a number without one.
    static func name(of uid: uid_t) -> String {
        guard let pw = getpwuid(uid) else { return "uid \(uid)" }
        return String(cString: pw.pointee.pw_name)
    }

    /// A user's name and number for messages: `nobody (uid 65534)`.
    static func describe(_ uid: uid_t) -> String {
        let name = name(of: uid)
        return name.hasPrefix("uid ") ? name : "\(name) (uid \(uid))"
    }
}
