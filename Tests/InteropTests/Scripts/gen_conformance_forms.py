#!/usr/bin/python3
"""Writes Tests/Fixtures/conformance-forms/: messages/*.eml, records.txt and manifest.tsv.

usage: /usr/bin/python3 Tests/InteropTests/Scripts/gen_conformance_forms.py [--no-observe] [--out DIR]

The forms (README.md there): mixed line endings (a)-(f) in simple/simple and relaxed/relaxed,
i= in dkim-quoted-printable, malformed and odd d=/s= values, key-record tag syntax, x= not
later than t=.  Adapted from the oracle research's gen.py; needs Debian's python3-dkim.

Deterministic: every signature is made by dkimpy (RSA PKCS#1 v1.5 is deterministic) with
key Tests/Fixtures/corpus/keys/rsa2048a.pem and a fixed t= (time.time is replaced while
signing); the random line-ending mix uses a fixed seed.  Two runs give the same bytes.

Signing: the line-ending forms are signed over the message with every bare LF as CRLF
(RFC 6376 5.3) and then written with the form's line endings.  The bare-CR forms (e) are
signed twice: over the message with the CR as CRLF (RFC 6376 5.3 for signers) and, in the
*-rawsig twin, over the bytes as stored (the CR kept as data).  The other forms use dkimpy's
signing path (DomainSigner.gen_header, which DKIM.sign uses) with a tag list chosen here,
so that dkimpy's parameter checks do not refuse the odd values.

Unless --no-observe is given, the three oracle scripts next to this one are then run in
`verify --raw` mode (exact bytes) and their verdicts for each file's signature are written
to the manifest's dkimpy, maildkim and opendkim columns: review that diff before committing.
With --no-observe those columns are "-".  --out writes somewhere else (the test suite checks
that a fresh run reproduces the committed files).
"""
import base64
import hashlib
import os
import random
import re
import subprocess
import sys

try:
    import dkim
    from dkim.canonicalization import CanonicalizationPolicy
    from dkim.crypto import parse_pem_private_key
except ImportError:
    sys.exit('run with /usr/bin/python3 (Debian python3-dkim)')

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(SCRIPTS)))
CORPUS = os.path.join(ROOT, 'Tests/Fixtures/corpus')
OUT = os.path.join(ROOT, 'Tests/Fixtures/conformance-forms')
if '--out' in sys.argv[1:-1]:
    OUT = os.path.abspath(sys.argv[sys.argv.index('--out') + 1])
KEY = open(os.path.join(CORPUS, 'keys/rsa2048a.pem'), 'rb').read()
DOMAIN, SEL = b'example.com', b'sr2048a'
T_PAST = 1700000000     # 2023-11-14T22:13:20Z: t= of every signature unless said otherwise
T_FUTURE = 4000000000   # 2096-10-02T07:06:40Z
HEADERS = [b'from', b'to', b'subject', b'date', b'message-id']


class FixedTime:
    """Stands in for the time module inside dkimpy while signing."""
    now = T_PAST

    def time(self):
        return self.now


FIXED = FixedTime()
dkim.time = FIXED  # dkimpy calls time.time() for t=; nothing else uses it here

BASE_HEADER = (b'From: Joe SixPack <joe@example.com>\r\n'
               b'To: Suzie Q <suzie@example.net>\r\n'
               b'Subject: Is dinner\r\n'
               b'  ready?\r\n'
               b'Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n'
               b'Message-ID: <20030712040037.46341.5F8J@example.com>\r\n')
BASE_BODY = (b'Hi.\r\n'
             b'\r\n'
             b'We lost the game.  Are you hungry yet?\r\n'
             b'\r\n'
             b'Joe.\r\n')
BASE = BASE_HEADER + b'\r\n' + BASE_BODY


def to_crlf(msg):
    """RFC 6376 5.3 (signers): every bare CR and every bare LF becomes CRLF."""
    return re.sub(rb'\r\n|\r|\n', b'\r\n', msg)


def sign_std(msg, canon):
    """dkimpy's DKIM.sign over msg (CRLF bytes): the DKIM-Signature field, CRLF-terminated."""
    d = dkim.DKIM(msg, linesep=b'\r\n')
    return d.sign(SEL, DOMAIN, KEY, signature_algorithm=b'rsa-sha256', canonicalize=canon,
                  include_headers=HEADERS)


def sign_fields(msg, fields, canon=(b'relaxed', b'relaxed'), t=T_PAST):
    """dkimpy's signing path with a tag list of our choosing and no parameter checks.
    fields: [(tag, value)] in output order; value None for bh= (computed) and b= (signed)."""
    FIXED.now = t
    d = dkim.DKIM(msg, linesep=b'\r\n')
    d.signature_algorithm = b'rsa-sha256'
    d.hasher = hashlib.sha256
    policy = CanonicalizationPolicy.from_c_value(b'/'.join(canon))
    bh = base64.b64encode(hashlib.sha256(policy.canonicalize_body(d.body)).digest())
    out = []
    for k, v in fields:
        if k == b'bh':
            v = bh
        elif k == b'b':
            v = b'0' * 60  # as DKIM.sign does: puts b= on its own folded line
        out.append((k, v))
    hdrs = [h.split(b':')[0].strip().lower() for h in dict(out)[b'h'].split(b':')]
    value = d.gen_header(out, hdrs, policy, b'DKIM-Signature', parse_pem_private_key(KEY))
    FIXED.now = T_PAST
    return b'DKIM-Signature: ' + value


def std_fields(**over):
    """The tags DKIM.sign writes (relaxed/relaxed), replaced, added (before h=) or removed (None)."""
    f = [(b'v', b'1'), (b'a', b'rsa-sha256'), (b'c', b'relaxed/relaxed'), (b'd', DOMAIN),
         (b'i', b'@' + DOMAIN), (b'q', b'dns/txt'), (b's', SEL), (b't', str(T_PAST).encode())]
    extra = []
    for k, v in over.items():
        k = k.encode()
        idx = [i for i, (kk, _) in enumerate(f) if kk == k]
        if idx:
            if v is None:
                del f[idx[0]]
            else:
                f[idx[0]] = (k, v)
        elif v is not None:
            extra.append((k, v))
    return f + extra + [(b'h', b' : '.join(HEADERS)), (b'bh', None), (b'b', None)]


def corpus_record(name):
    for line in open(os.path.join(CORPUS, 'keys.txt'), 'rb').read().split(b'\n'):
        cols = line.split(b'\t')
        if cols[0] == name:
            return cols[1]
    sys.exit('%s not in the corpus keys.txt' % name.decode())


REC = corpus_record(b'sr2048a._domainkey.example.com')
P = re.search(rb'p=([A-Za-z0-9+/=]+)', REC).group(1)
RECORDS = [  # (name, record text); every key is rsa2048a.pem's public key
    (b'sr2048a._domainkey.example.com', REC),
    # the names a lax verifier looks up for the odd d= and s= values
    (b'sr2048a._domainkey.legitimate.com(.attacker.com', REC),
    (b'sr2048a._domainkey."example.com"', REC),
    (b'sr2048a._domainkey.-bad.example.com', REC),
    (b'x()header.d=legit.com._domainkey.example.com', REC),
    (b'esc\x1bsel._domainkey.example.com', REC),
    (b'a.b._domainkey.example.com', REC),
    (b'_under._domainkey.example.com', REC),
    # key-record tag syntax
    (b'k-h-space._domainkey.example.com', b'v=DKIM1; k=rsa; h=sha1:sha 256; p=' + P),
    (b'k-h-new._domainkey.example.com', b'v=DKIM1; k=rsa; h=sha256:x-new; p=' + P),
    (b'k-s-email-star._domainkey.example.com', b'v=DKIM1; k=rsa; s=email:*; p=' + P),
    (b'k-s-fws._domainkey.example.com', b'v=DKIM1; k=rsa; s=email : *; p=' + P),
    (b'k-t-ys-fws._domainkey.example.com', b'v=DKIM1; k=rsa; t=y : s; p=' + P),
]

MESSAGES = []  # (name, form, bytes, expected result, description, why)


def add(name, form, data, rfc, desc, why):
    MESSAGES.append((name, form, data, rfc, desc, why))


def line_endings():
    rng = random.Random(6376)
    crlf, lf = b'\r\n', b'\n'
    lf_why = 'RFC 6376 5.3: a bare LF is a line break in the local convention (read as CRLF)'
    for cc, canon in [('ss', (b'simple', b'simple')), ('rr', (b'relaxed', b'relaxed'))]:
        signed = sign_std(BASE, canon) + BASE
        lines = signed.split(b'\r\n')[:-1]
        blank = lines.index(b'')
        sig = [0]  # the DKIM-Signature field: line 0 and its continuation lines
        while lines[sig[-1] + 1][:1] in (b' ', b'\t'):
            sig.append(sig[-1] + 1)
        n = len(lines)

        def join(terms):
            return b''.join(line + t for line, t in zip(lines, terms))

        add('le-a-hdr-crlf-body-lf-' + cc, 'le-a', join([crlf] * (blank + 1) + [lf] * (n - blank - 1)),
            'pass', 'header lines and the blank line CRLF, body lines bare LF', lf_why)
        add('le-b-hdr-lf-body-crlf-' + cc, 'le-b', join([lf] * (blank + 1) + [crlf] * (n - blank - 1)),
            'pass', 'header lines (signature too) and the blank line bare LF, body lines CRLF', lf_why)
        add('le-c-sig-crlf-rest-lf-' + cc, 'le-c', join([crlf if i in sig else lf for i in range(n)]),
            'pass', 'DKIM-Signature field (all its lines) CRLF, every other line bare LF', lf_why)
        while True:  # both kinds in the header and in the body
            terms = [rng.choice([crlf, lf]) for _ in range(n)]
            if len(set(terms[:blank])) == 2 and len(set(terms[blank + 1:])) == 2:
                break
        add('le-d-random-mix-' + cc, 'le-d', join(terms), 'pass',
            'each line ending CRLF or bare LF at random (seed 6376), header and body', lf_why)
        for tag, what, body in [
                ('e-bare-cr-mid', 'a bare CR mid-line ("game.<CR>Are")',
                 BASE_BODY.replace(b'game.  Are', b'game.\rAre')),
                ('e2-cr-before-crlf', 'a bare CR before the CRLF ("yet?<CR><CR><LF>")',
                 BASE_BODY.replace(b'hungry yet?\r\n', b'hungry yet?\r\r\n'))]:
            stored = BASE_HEADER + b'\r\n' + body
            add('le-%s-%s' % (tag, cc), 'le-e', sign_std(to_crlf(stored), canon) + stored, 'fail',
                'CRLF file, one body line with %s; signed with that CR as CRLF (RFC 6376 5.3)' % what,
                'a bare CR is data, not a line break (RFC 6376 3.4.4: not WSP; 5.3 is for signers): '
                'the body hash differs')
            add('le-%s-rawsig-%s' % (tag, cc), 'le-e', sign_std(stored, canon) + stored, 'pass',
                'the same file, signed over the bytes as stored (the CR kept as data)',
                'a bare CR is data and is hashed as such')
        crlf_file = join([crlf] * n)
        assert crlf_file.count(b'Is dinner\r\n') == 1
        add('le-f-fold-lf-' + cc, 'le-f', crlf_file.replace(b'Is dinner\r\n', b'Is dinner\n'), 'pass',
            'CRLF file; the fold inside Subject ("Is dinner" LF "  ready?") is a bare LF', lf_why)
        assert len(sig) > 3
        terms = [crlf] * n
        terms[1] = lf  # after the field's 2nd line: inside h=, hashed, not inside b=
        add('le-f2-sigfold-lf-' + cc, 'le-f', join(terms), 'pass',
            'CRLF file; one fold inside the DKIM-Signature field (in h=) is a bare LF', lf_why)


def qp_identities():
    for name, i, rfc, why in [
            ('i-qp-at', b'user=40example.com', 'pass', 'RFC 6376 3.5: i= is dkim-quoted-printable, =40 is "@"'),
            ('i-qp-dot', b'user@example=2Ecom', 'pass', '=2E is "."'),
            ('i-qp-sub-dot', b'@sub=2Eexample.com', 'pass', '@sub.example.com, a subdomain of d='),
            ('i-qp-lower-hex', b'user=4a=40example.com', 'pass',
             'RFC 2045 6.7 (1): upper-case hex when sending, "a robust implementation may choose to recognize '
             'lowercase letters on receipt" (userJ@example.com); under the strict hex-octet grammar: permerror'),
            ('i-qp-bad-domain', b'user=40example=2Enet', 'permerror',
             'RFC 6376 6.1.1: decodes to user@example.net, not d= or a subdomain of it (domain mismatch)'),
    ]:
        add(name, 'qp-i', sign_fields(BASE, std_fields(i=i)) + BASE, rfc,
            'i=%s, d=example.com, relaxed/relaxed' % i.decode(), why)


def domains_and_selectors():
    for name, d, s, rfc, why in [
            ('d-paren', b'legitimate.com(.attacker.com', SEL, 'permerror',
             'RFC 6376 3.5: d= must be a domain-name; "(" is not a label byte (key published at that name)'),
            ('d-quoted', b'"example.com"', SEL, 'permerror',
             'DQUOTE is not a label byte (key published at the quoted and the plain name)'),
            ('d-leading-hyphen', b'-bad.example.com', SEL, 'permerror',
             'RFC 5321 sub-domain: a label starts with a letter or digit (key published at that name)'),
            ('s-paren-header-d', DOMAIN, b'x()header.d=legit.com', 'permerror',
             'RFC 6376 3.5: s= must be a selector (sub-domain labels); key published at that name'),
            ('s-esc-byte', DOMAIN, b'esc\x1bsel', 'permerror',
             'ESC is not a VALCHAR (tag-list syntax error); key published at that name'),
            ('s-dotted', DOMAIN, b'a.b', 'pass', 'selector = sub-domain *("." sub-domain)'),
            ('s-leading-underscore', DOMAIN, b'_under', 'pass',
             'the RFC 6376 ABNF has no "_" (sub-domain = Let-dig [Ldh-str]), but DNS labels may hold it '
             '(RFC 2181 11): accepted on purpose, the one documented deviation from the ABNF'),
    ]:
        shown = lambda v: v.decode('latin-1').replace('\x1b', '<ESC>')  # noqa: E731
        add(name, 'd-s-syntax', sign_fields(BASE, std_fields(d=d, s=s, i=None)) + BASE, rfc,
            'd=%s s=%s (no i=), relaxed/relaxed' % (shown(d), shown(s)), why)


def key_records():
    for name, s, i, rfc, why in [
            ('k-h-space', b'k-h-space', None, 'permerror',
             'RFC 6376 3.6.1: "sha 256" is not a key-h-tag-alg (key syntax error, 6.1.2)'),
            ('k-h-new', b'k-h-new', None, 'pass', 'x-new is a valid x-key-h-tag-alg, unknown, ignored'),
            ('k-s-email-star', b'k-s-email-star', None, 'pass', 'key-s-tag = "email" ":" "*"'),
            ('k-s-fws', b'k-s-fws', None, 'pass', 'key-s-tag allows [FWS] around ":"'),
            ('k-t-ys-fws', b'k-t-ys-fws', None, 'pass', 'key-t-tag allows [FWS] around ":"; no i= (i=@d)'),
            ('k-t-ys-fws-isub', b'k-t-ys-fws', b'@sub.example.com', 'permerror',
             't=s (written "y : s") forbids an i= in a subdomain of d= (RFC 6376 3.6.1)'),
    ]:
        rec = dict(RECORDS)[s + b'._domainkey.example.com']
        add(name, 'key-record', sign_fields(BASE, std_fields(s=s, i=i)) + BASE, rfc,
            's=%s i=%s; key record: %s' % (s.decode(), (i or b'(none)').decode(),
                                          rec.replace(P, b'<P>').decode()), why)


def expirations():
    for name, t, x in [('x-eq-t-past', T_PAST, T_PAST), ('x-lt-t-past', T_PAST, T_PAST - 1),
                       ('x-eq-t-future', T_FUTURE, T_FUTURE), ('x-lt-t-future', T_FUTURE, T_FUTURE - 1)]:
        add(name, 'x-not-after-t', sign_fields(BASE, std_fields(t=str(t).encode(), x=str(x).encode()), t=t) + BASE,
            'permerror', 't=%d x=%d, relaxed/relaxed' % (t, x), 'RFC 6376 3.5: x= MUST be greater than t=')


def observe(files):
    """The oracles' verdict on each file's (only) signature, in `verify --raw` mode."""
    records = os.path.join(OUT, 'records.txt')
    verdicts = {}
    for oracle, exe, script in [('dkimpy', '/usr/bin/python3', 'dkimpy_oracle.py'),
                                ('maildkim', '/usr/bin/perl', 'maildkim_oracle.pl'),
                                ('opendkim', '/usr/bin/python3', 'opendkim_oracle.py')]:
        r = subprocess.run([exe, os.path.join(SCRIPTS, script), 'verify', '--raw', '--records', records] + files,
                           stdout=subprocess.PIPE, check=True)
        seen = {}
        for line in r.stdout.decode().splitlines():
            path, idx, res = line.split('\t')
            seen.setdefault(path, []).append(res)
        for path in files:
            res = seen.get(path, [])
            assert len(res) <= 1, (oracle, path, res)
            verdicts.setdefault(path, []).append(res[0] if res else 'none')
    return verdicts


def main():
    line_endings()
    qp_identities()
    domains_and_selectors()
    key_records()
    expirations()
    msgdir = os.path.join(OUT, 'messages')
    os.makedirs(msgdir, exist_ok=True)
    for f in os.listdir(msgdir):
        if f.endswith('.eml'):
            os.unlink(os.path.join(msgdir, f))
    with open(os.path.join(OUT, 'records.txt'), 'wb') as f:
        f.write(b'# Key records of the conformance-forms messages (corpus keys.txt format: NAME<TAB>RECORD).\n'
                b'# Written by Tests/InteropTests/Scripts/gen_conformance_forms.py. Every key is rsa2048a.pem\'s.\n'
                b'# Names are exact: they hold "(", "\\"", a leading "-", "_" and an ESC byte (0x1b).\n')
        for name, rec in RECORDS:
            assert b'\t' not in rec and b'\n' not in rec
            f.write(name + b'\t' + rec + b'\n')
    paths = []
    for name, _, data, _, _, _ in MESSAGES:
        paths.append(os.path.join(msgdir, name + '.eml'))
        with open(paths[-1], 'wb') as f:
            f.write(data)
    if '--no-observe' in sys.argv[1:]:
        verdicts = {p: ['-', '-', '-'] for p in paths}
    else:
        verdicts = observe(paths)
    with open(os.path.join(OUT, 'manifest.tsv'), 'w') as man:
        man.write('file\tform\trfc\tdkimpy\tmaildkim\topendkim\tdescription\twhy\n')
        for path, (name, form, _, rfc, desc, why) in zip(paths, MESSAGES):
            man.write('\t'.join(['messages/%s.eml' % name, form, rfc] + verdicts[path] + [desc, why]) + '\n')
    print('%d messages, %d records in %s' % (len(MESSAGES), len(RECORDS), OUT))


if __name__ == '__main__':
    main()
