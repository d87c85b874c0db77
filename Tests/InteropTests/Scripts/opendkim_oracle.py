#!/usr/bin/python3
"""OpenDKIM 2.11 (the real `opendkim` milter) as a DKIM reference oracle.

usage:
  opendkim_oracle.py verify --records KEYS.txt [--raw] [-v] FILE.eml [FILE.eml ...]
      One line per DKIM-Signature field, top-most first: "INDEX RESULT"
      (or "FILE<TAB>INDEX<TAB>RESULT" when several files are given).  RESULT
      is the dkim= value of OpenDKIM's Authentication-Results entry for that
      signature (pass, fail, neutral, policy, permerror, temperror, ...), or
      "none" when OpenDKIM reported nothing for it.  No signature: no line.
      By default an LF-only file is converted to CRLF and the header is split
      at CRLF only.  --raw hands over the exact bytes, for files that mix line
      endings: lines end at any LF (CRLF or bare), each header field goes to
      the milter with its inner line breaks as stored (only its final one
      removed, the protocol carries none), the body goes as stored.
      -v writes the Authentication-Results values and milter actions to stderr.
  opendkim_oracle.py sign --key KEY.pem --domain D --selector S
                          [--algorithm rsa-sha256|ed25519-sha256]
                          [--canonicalization relaxed/simple] [--headers from:to:subject]
                          [--body-length] FILE.eml
      Writes the message with OpenDKIM's DKIM-Signature field prepended to
      stdout (in the file's own line-ending convention).  --headers becomes
      SignHeaders (+ OversignHeaders for names asked for more often than
      present), so h= lists the same names, in OpenDKIM's order.

How: starts `opendkim -f -x CONF` on a unix socket in a fresh temporary
directory, talks the milter protocol to it (version 6, SMFIP_HDR_LEADSPC so
every header value reaches it byte-exact, as from Postfix), collects the
header fields it adds, then kills that process (by its PID) and removes the
directory.  Verification connects from 192.0.2.1, signing from 127.0.0.1
(InternalHosts).  Keys come from KEYS.txt through TestPublicKeys, never from
DNS.  Limitation: TestPublicKeys has no notion of a temporary failure, so
`!TEMPFAIL` names are left out and look like NXDOMAIN (temperror cannot be
tested this way); multi-string records are passed joined.
Exit status: 0 ok, 1 I/O or OpenDKIM error, 2 usage error.
"""
import base64
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_common as oc  # noqa: E402

OPENDKIM = '/usr/sbin/opendkim'
TIMEOUT = 30  # seconds, per socket operation and for start-up

# milter protocol (libmilter/mfdef.h)
SMFIP_NOCONNECT, SMFIP_NOHELO, SMFIP_NOMAIL, SMFIP_NORCPT = 0x1, 0x2, 0x4, 0x8
SMFIP_NOBODY, SMFIP_NOHDRS, SMFIP_NOEOH, SMFIP_NR_HDR = 0x10, 0x20, 0x40, 0x80
SMFIP_NODATA, SMFIP_SKIP = 0x200, 0x400
SMFIP_NR_CONN, SMFIP_NR_HELO, SMFIP_NR_MAIL, SMFIP_NR_RCPT = 0x1000, 0x2000, 0x4000, 0x8000
SMFIP_NR_DATA, SMFIP_NR_EOH, SMFIP_NR_BODY, SMFIP_HDR_LEADSPC = 0x10000, 0x40000, 0x80000, 0x100000
ALL_ACTIONS, ALL_STEPS = 0x1FF, 0x1FFFFF
FINAL = set(b'artdy')  # accept, reject, tempfail, discard, reply code: transaction over


class Milter:
    """The MTA side of one milter connection."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT)
        self.s.connect(path)
        self.send(b'O', struct.pack('!III', 6, ALL_ACTIONS, ALL_STEPS))
        cmd, data = self.recv()
        if cmd != b'O' or len(data) < 12:
            raise RuntimeError('bad option negotiation reply %r' % cmd)
        _, _, self.proto = struct.unpack('!III', data[:12])
        if not self.proto & SMFIP_HDR_LEADSPC:
            raise RuntimeError('opendkim did not accept SMFIP_HDR_LEADSPC')

    def send(self, cmd, data=b''):
        self.s.sendall(struct.pack('!I', len(data) + 1) + cmd + data)

    def recv(self):
        def exactly(n):
            buf = b''
            while len(buf) < n:
                chunk = self.s.recv(n - len(buf))
                if not chunk:
                    raise RuntimeError('opendkim closed the milter connection')
                buf += chunk
            return buf
        data = exactly(struct.unpack('!I', exactly(4))[0])
        return data[:1], data[1:]

    def step(self, cmd, data, skip_bit, noreply_bit):
        """Send one step; return its reply code (b'c' if none is expected or sent)."""
        if self.proto & skip_bit:
            return b'c'
        self.send(cmd, data)
        if self.proto & noreply_bit:
            return b'c'
        while True:
            code, _ = self.recv()
            if code != b'p':  # progress
                return code

    def message(self, fields, body, client_ip):
        """Run one SMTP transaction.  fields: [(name, raw value after the colon)].
        Returns (final action, [(name, value)] of the header fields added)."""
        steps = [
            (b'C', b'client.example\0' + b'4' + struct.pack('!H', 25) + client_ip.encode() + b'\0',
             SMFIP_NOCONNECT, SMFIP_NR_CONN),
            (b'H', b'client.example\0', SMFIP_NOHELO, SMFIP_NR_HELO),
            (b'M', b'<sender@example.com>\0', SMFIP_NOMAIL, SMFIP_NR_MAIL),
            (b'R', b'<rcpt@example.net>\0', SMFIP_NORCPT, SMFIP_NR_RCPT),
            (b'T', b'', SMFIP_NODATA, SMFIP_NR_DATA),
        ] + [(b'L', n + b'\0' + v + b'\0', SMFIP_NOHDRS, SMFIP_NR_HDR) for n, v in fields] + [
            (b'N', b'', SMFIP_NOEOH, SMFIP_NR_EOH),
        ] + [(b'B', body[i:i + 65535], SMFIP_NOBODY, SMFIP_NR_BODY) for i in range(0, len(body), 65535)]
        skipping = None
        for cmd, data, skip_bit, noreply_bit in steps:
            if skipping and cmd == skipping:
                continue
            code = self.step(cmd, data, skip_bit, noreply_bit)
            if code == b's':  # skip the rest of this kind of step (headers or body)
                skipping = cmd
            elif code != b'c':
                return code.decode('latin-1'), []
        self.send(b'E')
        added = []
        while True:
            code, data = self.recv()
            if code == b'i':  # insert header: index, name, value
                data = data[4:]
            if code in (b'h', b'i'):
                name, _, value = data.partition(b'\0')
                added.append((name, value.rstrip(b'\0')))
            elif code[0] in FINAL or code == b'c':
                return code.decode('latin-1'), added

    def close(self):
        try:
            self.send(b'Q')
        except OSError:
            pass
        self.s.close()


class OpenDKIM:
    """An `opendkim -f` process of our own in a temporary directory."""

    def __init__(self, conf_lines, files=()):
        """conf_lines may refer to {dir}, where files ([(name, bytes)]) are written first."""
        self.dir = tempfile.mkdtemp(prefix='opendkim-oracle.')
        self.sock = os.path.join(self.dir, 's')
        self.proc = None
        for name, data in files:
            with open(os.path.join(self.dir, name), 'wb') as f:
                f.write(data)
        conf = os.path.join(self.dir, 'opendkim.conf')
        with open(conf, 'w') as f:
            f.write('\n'.join([l.replace('{dir}', self.dir) for l in conf_lines] + [
                'Socket local:%s' % self.sock, 'PidFile %s' % os.path.join(self.dir, 'pid'),
                'Syslog no', 'AlwaysAddARHeader yes', 'AuthservID oracle',
                'InternalHosts 127.0.0.1', 'MinimumKeyBits 1024',
                'MaximumSignaturesToVerify 50', 'On-Default accept', '']))
        self.log = open(os.path.join(self.dir, 'log'), 'wb')
        self.proc = subprocess.Popen([OPENDKIM, '-f', '-x', conf], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + TIMEOUT
        while True:
            try:
                Milter(self.sock).close()
                return
            except OSError:  # socket not there yet
                if self.proc.poll() is None and time.time() < deadline:
                    time.sleep(0.05)
                    continue
                err = 'opendkim did not start: %s' % self.logtext()
            except RuntimeError as e:
                err = 'opendkim milter: %s' % e
            self.stop()
            raise RuntimeError(err)

    def logtext(self):
        try:
            with open(os.path.join(self.dir, 'log'), 'rb') as f:
                return f.read().decode('utf-8', 'replace').strip()[-2000:] or '(no output)'
        except OSError:
            return '(no log)'

    def run(self, msg, client_ip, exact=False):
        """msg: CRLF bytes (exact: the file's bytes, split by oc.split_raw) -> (action, added fields)."""
        fields, body = oc.split_raw(msg) if exact else oc.split_message(msg)
        raw = []
        for f in fields:
            if b':' in f:
                name, _, value = f.partition(b':')
                if exact:
                    value = oc.strip_terminator(value)
                elif value.endswith(b'\r\n'):
                    value = value[:-2]
                raw.append((name, value))
        m = Milter(self.sock)
        try:
            return m.message(raw, body, client_ip)
        finally:
            m.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:  # libmilter may take ~5 s to notice SIGTERM; no need to wait for that
                self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def ar_entries(value):
    """dkim= entries of an Authentication-Results value: [(result, {prop: value}, text)]."""
    parts, cur, depth, quoted = [], '', 0, False
    for ch in value.decode('utf-8', 'replace'):
        if ch == '"' and not depth:
            quoted = not quoted
        elif ch == '(' and not quoted:
            depth += 1
        elif ch == ')' and not quoted and depth:
            depth -= 1
        if ch == ';' and not depth and not quoted:
            parts.append(cur)
            cur = ''
        else:
            cur += ch
    parts.append(cur)
    out = []
    for p in parts[1:]:
        m = re.match(r'\s*dkim\s*=\s*(\w+)', p)
        if m:
            rest = re.sub(r'\([^)]*\)', ' ', p[m.end():])
            props = {k.lower(): v.strip('"') for k, v in re.findall(r'header\.(\w+)=("[^"]*"|\S+)', rest)}
            out.append((m.group(1).lower(), props, ' '.join(p.split())))
    return out


def verify_results(msg, added, exact=False):
    sigs = oc.signature_fields(msg, raw=exact)
    entries = [e for n, v in added if n.lower() == b'authentication-results' for e in ar_entries(v)]
    result = [None] * len(sigs)
    left = []
    for res, props, _ in entries:  # 1) by header.b= prefix (and header.d=)
        b, d = props.get('b', ''), props.get('d', '').lower()
        for i, raw in enumerate(sigs):
            sb, sd = oc.tag(raw, b'b') or b'', (oc.tag(raw, b'd') or b'').decode('utf-8', 'replace').lower()
            if result[i] is None and b and sb.decode('ascii', 'replace').startswith(b) and (not d or d == sd):
                result[i] = res
                break
        else:
            left.append(res)
    for i in range(len(sigs)):  # 2) the rest in order
        if result[i] is None:
            result[i] = left.pop(0) if left else 'none'
    return result


def verify(opts, files):
    recs = oc.load_records(opts['records'])
    exact = opts.get('raw', False)
    read = oc.read_file if exact else oc.read_message
    msgs = [read(path) for path in files]  # fail early, before starting opendkim
    keys = b''.join(name.encode() + b' ' + b''.join(strings) + b'\n'  # TestPublicKeys format
                    for name, strings in sorted(recs.items()) if strings is not oc.TEMPFAIL)
    od = OpenDKIM(['Mode sv', 'TestPublicKeys {dir}/keys'], [('keys', keys)])
    try:
        results = []
        for path, msg in zip(files, msgs):
            action, added = od.run(msg, '192.0.2.1', exact)
            if opts.get('v'):
                sys.stderr.write('%s: action %s\n' % (path, action) + ''.join(
                    '  %s:%s\n' % (n.decode('latin-1'), v.decode('utf-8', 'replace')) for n, v in added))
            results.append(verify_results(msg, added, exact))
    finally:
        od.stop()
    oc.print_results(files, results)


def sign(opts, path):
    raw = oc.read_file(path)
    msg = oc.read_message(path)
    key = os.path.abspath(opts['key'])
    if b'-----BEGIN' not in oc.read_file(key):
        oc.die('%s: opendkim needs a PEM private key' % key)
    is_ed = b'\x06\x03\x2b\x65\x70' in pem_der(key)[:16]  # OID 1.3.101.112 (Ed25519)
    alg = opts.get('algorithm') or ('ed25519-sha256' if is_ed else 'rsa-sha256')
    if alg.startswith('ed25519') != is_ed:  # opendkim itself would sign anyway, wrongly
        oc.die('%s does not fit --algorithm %s' % (key, alg))
    # KeyTable + SigningTable "*": sign mail from any sender domain, not just --domain
    conf = ['Mode sv', 'KeyTable file:{dir}/keytable', 'SigningTable refile:{dir}/signingtable',
            'RequireSafeKeys no', 'SignatureAlgorithm %s' % alg,
            'Canonicalization %s' % opts.get('canonicalization', 'relaxed/simple')]
    files = [('keytable', ('k %s:%s:%s\n' % (opts['domain'], opts['selector'], key)).encode()),
             ('signingtable', b'* k\n')]
    if 'headers' in opts:
        want = [h.strip().lower() for h in opts['headers'].split(':') if h.strip()]
        have = [oc.field_name(f).decode('latin-1').lower() for f in oc.split_message(msg)[0]]
        over = sorted({h for h in want if want.count(h) > have.count(h)})
        conf.append('SignHeaders %s' % ','.join(dict.fromkeys(want)))
        if over:
            conf.append('OversignHeaders %s' % ','.join(over))
    if opts.get('body-length'):  # l= for mail to our (only) recipient
        conf.append('BodyLengthDB file:{dir}/bodylength')
        files.append(('bodylength', b'rcpt@example.net\n'))
    od = OpenDKIM(conf, files)
    try:
        action, added = od.run(msg, '127.0.0.1')
        log = od.logtext()
    finally:
        od.stop()
    sigs = [v for n, v in added if n.lower() == b'dkim-signature']
    if not sigs:
        oc.die('opendkim added no DKIM-Signature (milter action %s; wrong key or algorithm? '
               'OpenDKIM also signs no relaxed body without a final CRLF): %s' % (action, log))
    value = sigs[0].replace(b'\r\n', b'\n')
    nl = b'\r\n' if b'\r\n' in raw else b'\n'
    sys.stdout.buffer.write(b'DKIM-Signature:' + value.replace(b'\n', nl) + nl + raw)
    sys.stdout.flush()


def pem_der(path):
    data = oc.read_file(path)
    try:
        return base64.b64decode(b''.join(l for l in data.splitlines() if not l.startswith(b'-----')))
    except ValueError:
        return b''


def run(cmd, opts, files):
    if not os.access(OPENDKIM, os.X_OK):
        oc.die('%s not found (Debian package opendkim)' % OPENDKIM)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so the finally blocks run
    try:
        verify(opts, files) if cmd == 'verify' else sign(opts, files[0])
    except (RuntimeError, OSError) as e:
        oc.die(str(e))


if __name__ == '__main__':
    oc.main_wrapper(__doc__, {'--key': True, '--domain': True, '--selector': True,
                              '--algorithm': True, '--canonicalization': True,
                              '--headers': True, '--body-length': False}, run)
