"""Helpers shared by dkimpy_oracle.py and opendkim_oracle.py (Python 3 stdlib only).

Records file format (keys.txt): `NAME<TAB>RECORD[<TAB>STRINGS]`, `#` comments,
RECORD `!TEMPFAIL` = temporary DNS failure, unlisted name = NXDOMAIN,
STRINGS = the TXT character-strings separated by the three bytes `" "`.
"""
import re
import sys

TEMPFAIL = object()


class UsageError(Exception):
    pass


def die(msg, code=1):
    sys.stderr.write('%s: %s\n' % (sys.argv[0].rsplit('/', 1)[-1], msg))
    sys.exit(code)


def read_file(path):
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as e:
        die('cannot read %s: %s' % (path, e.strerror or e))


def load_records(path):
    """lower-case name without trailing dot -> TEMPFAIL or list of TXT strings (bytes)."""
    recs = {}
    for n, line in enumerate(read_file(path).split(b'\n'), 1):
        line = line.rstrip(b'\r')
        if not line.strip() or line.startswith(b'#'):
            continue
        cols = line.split(b'\t')
        if len(cols) < 2:
            die('%s:%d: expected NAME<TAB>RECORD' % (path, n))
        name = cols[0].strip().decode('ascii', 'replace').lower().rstrip('.')
        if cols[1] == b'!TEMPFAIL':
            recs[name] = TEMPFAIL
        elif len(cols) > 2 and cols[2]:
            recs[name] = cols[2].split(b'" "')
        else:  # what a zone would hold: 255-byte character-strings
            recs[name] = [cols[1][i:i + 255] for i in range(0, len(cols[1]), 255)] or [b'']
    return recs


def read_message(path):
    """The message bytes; an LF-only file (no CRLF at all) is converted to CRLF."""
    msg = read_file(path)
    if b'\r\n' not in msg:
        msg = msg.replace(b'\n', b'\r\n')
    return msg


def split_message(msg):
    """CRLF message -> (list of raw header fields, each with its CRLFs, body)."""
    if msg.startswith(b'\r\n'):
        return [], msg[2:]
    end = msg.find(b'\r\n\r\n')
    head, body = (msg, b'') if end < 0 else (msg[:end + 2], msg[end + 4:])
    parts = head.split(b'\r\n')
    fields = []
    for line in [p + b'\r\n' for p in parts[:-1]] + ([parts[-1]] if parts[-1] else []):
        if fields and line[:1] in (b' ', b'\t'):
            fields[-1] += line
        else:
            fields.append(line)
    return fields, body


def split_raw(msg):
    """Exact bytes (`verify --raw`) -> (list of raw header fields, body as stored).

    A line ends at every LF, CRLF or bare; a line starting with SP or HT continues the
    field; the first empty line ("\\n" or "\\r\\n") ends the header.  Each field keeps its
    line breaks exactly as stored (the final one too); nothing is converted, and a bare
    CR is data."""
    lines = re.findall(rb'[^\n]*\n|[^\n]+\Z', msg)
    fields = []
    for i, line in enumerate(lines):
        if line in (b'\n', b'\r\n'):
            return fields, b''.join(lines[i + 1:])
        if fields and line[:1] in (b' ', b'\t'):
            fields[-1] += line
        else:
            fields.append(line)
    return fields, b''


def strip_terminator(raw_field):
    """A raw field without its final line break (CRLF or bare LF), as the milter protocol carries it."""
    if raw_field.endswith(b'\r\n'):
        return raw_field[:-2]
    return raw_field[:-1] if raw_field.endswith(b'\n') else raw_field


def field_name(raw):
    return raw.split(b':', 1)[0].rstrip(b' \t') if b':' in raw else b''


def signature_fields(msg, raw=False):
    """Raw DKIM-Signature fields (name matched case-insensitively), top first.
    raw: msg is the file's exact bytes, split by split_raw (`verify --raw`)."""
    fields = split_raw(msg)[0] if raw else split_message(msg)[0]
    return [f for f in fields if field_name(f).lower() == b'dkim-signature']


def tag(raw_field, name):
    """Lenient tag lookup in a raw signature field (whitespace removed), or None."""
    value = raw_field.split(b':', 1)[1] if b':' in raw_field else b''
    for part in value.split(b';'):
        k, eq, v = part.partition(b'=')
        if eq and k.strip() == name:
            return b''.join(v.split())
    return None


def print_results(files, results):
    """results: list (per file) of lists of result strings (per signature)."""
    out = sys.stdout
    for path, res in zip(files, results):
        for i, r in enumerate(res, 1):
            out.write('%s\t%d\t%s\n' % (path, i, r) if len(files) > 1 else '%d %s\n' % (i, r))
    out.flush()


def parse_args(argv, sign_opts):
    """verify --records F [--raw] [-v] FILE...  |  sign OPTIONS FILE.  sign_opts: option -> takes a value."""
    if not argv or argv[0] not in ('verify', 'sign'):
        raise UsageError('expected "verify" or "sign"')
    cmd, opts, files = argv[0], {}, []
    allowed = {'--records': True, '--raw': False, '-v': False} if cmd == 'verify' else sign_opts
    it = iter(argv[1:])
    for a in it:
        if a.startswith('-') and a != '-':
            if a not in allowed:
                raise UsageError('unknown option %s for %s' % (a, cmd))
            v = next(it, None) if allowed[a] else True
            if v is None:
                raise UsageError('%s needs a value' % a)
            opts[a.lstrip('-')] = v
        else:
            files.append(a)
    if cmd == 'verify' and ('records' not in opts or not files):
        raise UsageError('verify needs --records FILE and at least one message file')
    if cmd == 'sign':
        missing = [o for o in ('key', 'domain', 'selector') if o not in opts]
        if missing or len(files) != 1:
            raise UsageError('sign needs --key, --domain, --selector and exactly one message file')
    return cmd, opts, files


def main_wrapper(usage, sign_opts, run):
    if len(sys.argv) > 1 and sys.argv[1] in ('-h', '--help'):
        sys.stdout.write(usage)
        sys.exit(0)
    try:
        cmd, opts, files = parse_args(sys.argv[1:], sign_opts)
    except UsageError as e:
        sys.stderr.write('error: %s\n%s' % (e, usage))
        sys.exit(2)
    run(cmd, opts, files)
