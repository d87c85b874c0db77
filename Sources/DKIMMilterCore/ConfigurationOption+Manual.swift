import Foundation

extension ConfigurationOption {
    /// dkim-milter.conf(5) in mdoc(7), from the table: every option with its line, those read
    /// first, then those accepted but not applied with the reason. Printed by
    /// `dkim-milter --list-options man`; the packages install it (contrib/install.sh).
    /// - Parameter date: the page's date as mdoc writes it, such as `December 1, 2026`.
    public static func manual(date: String) -> String {
        let honoured = all.filter { $0.status == .honoured }
        let ignored = all.filter { $0.status != .honoured }
        var page = """
            .Dd \(date)
            .Dt DKIM-MILTER.CONF 5
            .Os
            .Sh NAME
            .Nm dkim-milter.conf
            .Nd configuration file of the dkim-milter DKIM signing and verification milter
            .Sh SYNOPSIS
            .Pa /etc/dkim-milter/dkim-milter.conf
            .Sh DESCRIPTION
            .Xr dkim-milter 8
            reads the file named by its
            .Fl -config
            option, in the syntax of OpenDKIM's opendkim.conf: one option per line, its name, white space
            and its value; a
            .Sq #
            starts a comment.
            Names are matched without regard to case.
            An unknown name stops the start with the file, the line and the name; an OpenDKIM option
            that does not apply here is accepted with a one-line warning that says why.
            .Nm dkim-milter Fl -check-config Ar file
            checks a file (keys readable and valid, tables consistent) and exits.
            .Pp
            Lists are inline
            .Pq Li "a, b" ,
            .Li csl:a,b ,
            or a file
            .Pf ( Pa /path ,
            .Li file:/path ,
            .Li refile:/path )
            with one entry per line and
            .Sq #
            comments.
            Relative paths are read from the configuration file's directory.
            SIGUSR1 reads the file again; a file that fails keeps the running configuration.
            .Sh OPTIONS
            .Ss Read and honoured

            """
        page += list(honoured)
        page += ".Ss Accepted but not applied\n"
        page += "A one-line warning at start gives the reason.\n"
        page += list(ignored)
        page += """
            .Sh FILES
            .Bl -tag -width Ds
            .It Pa /etc/dkim-milter/dkim-milter.conf
            The configuration of the packaged service (a conffile: upgrades keep your edits).
            .It Pa /etc/dkim-milter/keys/
            The key store of the packaged configuration,
            .Ar domain Ns / Ns Ar selector Ns .pem ,
            readable only by the dkim-milter user; removing or purging the package keeps it.
            .El
            .Sh SEE ALSO
            .Xr dkimkey 1 ,
            .Xr dkim-milter 8 ,
            .Xr opendkim.conf 5

            """
        return page
    }

    private static func list(_ options: [ConfigurationOption]) -> String {
        var out = ".Bl -tag -width Ds\n"
        for o in options {
            out += ".It Cm \(o.name)\n\(roffText(o.doc))\n"
        }
        return out + ".El\n"
    }

    /// A line of running text for roff: backslashes written as `\e`, and a line that would start
    /// with a control character made to start with the zero-width `\&`.
    static func roffText(_ text: String) -> String {
        let escaped = text.replacingOccurrences(of: "\\", with: "\\e")
        return escaped.hasPrefix(".") || escaped.hasPrefix("'") ? "\\&" + escaped : escaped
    }
}
