#!/bin/sh
# Installs dkim-milter and dkimkey without a package manager, the way the .deb does: the two
# programs (release build, Swift's runtime linked in), man pages and shell completions generated
# from the programs, the systemd unit and its helper, the sysusers.d entry, the configuration
# (never overwritten), then the system user, the key store and the socket directories.
# Safe to run again: files are replaced by the same files, and what exists is kept.
#
#   contrib/install.sh [PREFIX]                  install on this system (default PREFIX /usr/local)
#   contrib/install.sh --root DIR [PREFIX]       install into another system's root (a chroot)
#   contrib/install.sh --destdir DIR [PREFIX]    only lay the files out under DIR (for packages:
#                                                contrib/debian/build-deb.sh); no user, no directories
#   --bin-dir DIR   take dkim-milter and dkimkey from DIR instead of building them
#
# PREFIX /usr puts the unit in /lib/systemd/system and the sysusers.d entry in /usr/lib/sysusers.d
# (Debian's places), /usr/local in /usr/local/lib/..., any other prefix in /etc/systemd/system and
# /etc/sysusers.d. The configuration is always /etc/dkim-milter/dkim-milter.conf. The programs need
# libssl3, libmilter1.0.1, libcurl4 and libpq5 (or your distribution's names for them) at run time.
set -eu

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

prefix=/usr/local
destdir=
root=
bindir=
while [ $# -gt 0 ]; do
    case "$1" in
        --destdir) destdir=${2:?}; shift 2 ;;
        --root) root=${2:?}; shift 2 ;;
        --bin-dir) bindir=${2:?}; shift 2 ;;
        -h|--help) usage ;;
        -*) echo "install.sh: unknown option $1" >&2; usage ;;
        *) prefix=$1; shift ;;
    esac
done
case "$prefix" in /*) ;; *) echo "install.sh: PREFIX must be an absolute path" >&2; exit 2 ;; esac
prefix=${prefix%/}
[ -n "$prefix" ] || prefix=/usr
if [ -n "$destdir" ] && [ -n "$root" ]; then echo "install.sh: --destdir or --root, not both" >&2; exit 2; fi

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
case "$prefix" in
    /usr) unitdir=/lib/systemd/system; sysusersdir=/usr/lib/sysusers.d ;;
    /usr/local) unitdir=/usr/local/lib/systemd/system; sysusersdir=/usr/local/lib/sysusers.d ;;
    *) unitdir=/etc/systemd/system; sysusersdir=/etc/sysusers.d ;;
esac
libexecdir=$prefix/libexec/dkim-milter
mandir=$prefix/share/man
sharedir=$prefix/share
confdir=/etc/dkim-milter
# Where files go: DESTDIR or the other root; empty for this system.
top=${destdir:-$root}
top=${top%/}

# The programs: a release build with Swift's standard library and Foundation linked in, so the
# machine they run on needs no Swift runtime (its own scratch path: the debug build stays as it is).
if [ -z "$bindir" ]; then
    for product in dkim-milter dkimkey; do
        # -z now: all symbols bound at start (full RELRO, with -z relro, the linker's default).
        swift build -c release --static-swift-stdlib -Xlinker -z -Xlinker now \
            --scratch-path .build-deb/swift --product "$product" >&2
    done
    bindir=.build-deb/swift/release
fi
for program in dkim-milter dkimkey; do
    [ -x "$bindir/$program" ] || { echo "install.sh: $bindir/$program is missing" >&2; exit 1; }
done

# Man pages and completions, generated from the programs' own command trees (swift-argument-parser)
# and, for dkim-milter.conf(5), from the option table (dkim-milter --list-options man).
generated=$(mktemp -d)
trap 'rm -rf "$generated"' EXIT
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then day=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d); else day=$(date -u +%Y-%m-%d); fi
# The plugin builds its generate-manual tool (and only that) when asked for its help.
swift package --scratch-path .build-deb/swift generate-manual --help >/dev/null
generator=$(find .build-deb/swift -path '*/debug/generate-manual-tool' -type f | head -n 1)
[ -n "$generator" ] || { echo "install.sh: swift-argument-parser's generate-manual tool was not built" >&2; exit 1; }
mkdir -p "$generated/man1" "$generated/man5" "$generated/man8" "$generated/completions"
"$generator" "$bindir/dkimkey" --multi-page --section 1 --date "$day" --output-directory "$generated/man1"
"$generator" "$bindir/dkim-milter" --section 8 --date "$day" --output-directory "$generated/man8"
rm -f "$generated"/man1/*.help.1 "$generated"/man8/*.help.8
# A subcommand's page is named as git names its own (dkimkey-check(1)), so that whatis can read
# its NAME line; its synopsis still shows the command as typed (dkimkey check).
for page in "$generated"/man1/dkimkey.*.1; do
    sub=$(basename "$page" .1 | sed 's/^dkimkey\.//')
    sed -e "s/^\.Dt DKIMKEY\.[A-Z]* 1/.Dt DKIMKEY-$(echo "$sub" | tr a-z A-Z) 1/" \
        -e "s/^\.Nm \"dkimkey $sub\"$/.Nm dkimkey-$sub/" -e "s/^\.Nm$/.Nm dkimkey $sub/" \
        "$page" > "$generated/man1/dkimkey-$sub.1"
    rm "$page"
done
# dkim-milter takes no subcommand (the generator counts the implicit help).
sed -i '/^\.Ar subcommand$/d' "$generated/man8/dkim-milter.8"
"$bindir/dkim-milter" --list-options man > "$generated/man5/dkim-milter.conf.5"
# SEE ALSO: the generator's list (with dotted names) replaced by the installed pages' names.
see_also() { # see_also PAGE NAME(SECTION)...
    page=$1; shift
    sed -i '/^\.Sh "SEE ALSO"/,$d' "$page"
    [ -z "$(tail -c 1 "$page")" ] || echo >> "$page"
    echo '.Sh "SEE ALSO"' >> "$page"
    while [ $# -gt 0 ]; do
        ref=$(echo "$1" | sed 's/(\(.*\))$/ \1/')
        if [ $# -gt 1 ]; then echo ".Xr $ref ," >> "$page"; else echo ".Xr $ref" >> "$page"; fi
        shift
    done
}
subpages=$(for p in "$generated"/man1/dkimkey-*.1; do printf '%s(1) ' "$(basename "$p" .1)"; done)
# shellcheck disable=SC2086 # one word per page
see_also "$generated/man1/dkimkey.1" $subpages "dkim-milter(8)"
for page in "$generated"/man1/dkimkey-*.1; do see_also "$page" "dkimkey(1)"; done
see_also "$generated/man8/dkim-milter.8" "dkimkey(1)" "dkim-milter.conf(5)"
for program in dkim-milter dkimkey; do
    for shell in bash zsh fish; do
        "$bindir/$program" --generate-completion-script "$shell" > "$generated/completions/$program.$shell"
    done
    # A completion is sourced, not run: no #! line (lintian: bash-completion-with-hashbang).
    sed -i '1{/^#!/d}' "$generated/completions/$program.bash"
done

# Files. install(1) replaces a file only by a copy, so a rerun leaves the same files.
put() { # put MODE SOURCE TARGET
    install -d -m 0755 "$top$(dirname "$3")"
    install -m "$1" "$2" "$top$3"
}
for program in dkim-milter:sbin dkimkey:bin; do
    name=${program%%:*}
    install -d -m 0755 "$top$prefix/${program##*:}"
    install -m 0755 "$bindir/$name" "$top$prefix/${program##*:}/$name"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$top$prefix/${program##*:}/$name"
done
put 0755 contrib/systemd/prepare-socket-directories "$libexecdir/prepare-socket-directories"
sed -e "s|/usr/sbin/dkim-milter|$prefix/sbin/dkim-milter|g" -e "s|/usr/libexec/dkim-milter|$libexecdir|g" \
    contrib/systemd/dkim-milter.service > "$generated/dkim-milter.service"
put 0644 "$generated/dkim-milter.service" "$unitdir/dkim-milter.service"
put 0644 contrib/systemd/dkim-milter.sysusers "$sysusersdir/dkim-milter.conf"
for section in 1 5 8; do
    for page in "$generated/man$section"/*."$section"; do
        gzip -9n < "$page" > "$page.gz"
        put 0644 "$page.gz" "$mandir/man$section/$(basename "$page").gz"
    done
done
for program in dkim-milter dkimkey; do
    put 0644 "$generated/completions/$program.bash" "$sharedir/bash-completion/completions/$program"
    if [ "$prefix" = /usr ]; then zshdir=$sharedir/zsh/vendor-completions; else zshdir=$sharedir/zsh/site-functions; fi
    put 0644 "$generated/completions/$program.zsh" "$zshdir/_$program"
    put 0644 "$generated/completions/$program.fish" "$sharedir/fish/vendor_completions.d/$program.fish"
done
for doc in README.md contrib/MIGRATING.md; do
    put 0644 "$doc" "$sharedir/doc/dkim-milter/$(basename "$doc")"
done
put 0644 contrib/postfix/main.cf "$sharedir/doc/dkim-milter/examples/postfix-main.cf"
put 0644 contrib/dkim-milter.conf.example "$sharedir/doc/dkim-milter/examples/dkim-milter.conf.example"
# Key rotation under a timer: examples, as their domain and publishing method are yours to write.
for unit in dkimkey-rotate.service dkimkey-rotate.timer; do
    [ ! -e "contrib/systemd/$unit" ] || put 0644 "contrib/systemd/$unit" "$sharedir/doc/dkim-milter/examples/$unit"
done
# The configuration: the admin's copy is never replaced; a different new one lands beside it.
install -d -m 0755 "$top$confdir"
if [ ! -e "$top$confdir/dkim-milter.conf" ]; then
    install -m 0644 contrib/dkim-milter.conf "$top$confdir/dkim-milter.conf"
elif ! cmp -s contrib/dkim-milter.conf "$top$confdir/dkim-milter.conf"; then
    install -m 0644 contrib/dkim-milter.conf "$top$confdir/dkim-milter.conf.dist"
    echo "install.sh: kept your $confdir/dkim-milter.conf; the shipped one is $confdir/dkim-milter.conf.dist" >&2
fi
[ -z "$destdir" ] || exit 0

# The system: what the package's postinst does. In another root, through chroot(8).
in_system() { if [ -n "$root" ]; then chroot "$root" "$@"; else "$@"; fi; }
if ! in_system getent passwd dkim-milter >/dev/null; then
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers ${root:+--root="$root"} dkim-milter.conf
    else
        in_system useradd --system --user-group --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin --comment "DKIM signing and verification milter" dkim-milter
    fi
fi
# The key store: made once; keys, and the admin's modes, are never touched afterwards.
if [ ! -e "$top$confdir/keys" ]; then
    in_system install -d -m 0700 -o dkim-milter -g dkim-milter "$confdir/keys"
fi
in_system "$libexecdir/prepare-socket-directories"
if [ -z "$root" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
cat >&2 <<EOF
install.sh: installed in $prefix (unit $unitdir/dkim-milter.service). Next:
  runuser -u dkim-milter -- $prefix/bin/dkimkey generate SELECTOR --domain DOMAIN --keys-dir $confdir/keys
  (publish the TXT record it prints), then: systemctl enable --now dkim-milter
EOF
