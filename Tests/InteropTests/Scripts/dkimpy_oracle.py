#!/usr/bin/python3
"""dkimpy (python3-dkim 1.1.4) as a DKIM reference oracle.  Run with /usr/bin/python3.

usage:
  dkimpy_oracle.py verify --records KEYS.txt [--raw] [-v] FILE.eml [FILE.eml ...]
      One line per DKIM-Signature field, top-most first: "INDEX RESULT"
      (or "FILE<TAB>INDEX<TAB>RESULT" when several files are given).
      RESULT: pass | fail | permerror | temperror.  No signature: no line.
      Keys come from KEYS.txt (NAME<TAB>RECORD[<TAB>STRINGS], !TEMPFAIL =
      temporary failure, unlisted = NXDOMAIN), never from DNS.
      dkimpy always gets the file's bytes unchanged.  Signature fields are
      counted in the CRLF reading of the file (an LF-only file read as CRLF);
      --raw counts them with lines ending at any LF, CRLF or bare (for files
      that mix line endings).
      -v writes dkimpy's reason for each result to stderr.
  dkimpy_oracle.py sign --key KEY --domain D --selector S
                        [--algorithm rsa-sha256|ed25519-sha256]
                        [--canonicalization relaxed/relaxed] [--headers from:to:subject]
                        [--body-length] FILE.eml
      Writes FILE.eml with a DKIM-Signature field prepended to stdout.  KEY is
      an RSA PEM, an Ed25519 PKCS#8 PEM or a base64 Ed25519 seed file; without
      --algorithm it is guessed from the key.  --headers is used verbatim
      (repeats over-sign, absent names allowed); default: dkimpy's choice.
      An LF-only input gets an LF-terminated signature field.

Mapping: True = pass; False = fail, unless dkimpy logged a key/DNS error
(permerror; DnsTimeoutError = temperror); "body hash mismatch" = fail; any
other DKIMException or crash = permerror.  Exit status 0, 1 on I/O errors,
2 on usage errors.
"""
import base64
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_common as oc  # noqa: E402

try:
    import dkim
except ImportError:
    oc.die('cannot import dkim: run with /usr/bin/python3 (Debian python3-dkim)')


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.errors = []

    def emit(self, record):
        if record.levelno >= logging.ERROR:
            self.errors.append(record.getMessage())


def verify_file(path, recs, verbose, exact=False):
    raw = oc.read_file(path)
    nsigs = len(oc.signature_fields(raw, raw=True) if exact else oc.signature_fields(oc.read_message(path)))

    def dnsfunc(name, timeout=5):
        r = recs.get(name.decode('ascii', 'replace').lower().rstrip('.'))
        if r is oc.TEMPFAIL:
            raise dkim.DnsTimeoutError('simulated temporary DNS failure')
        return b''.join(r) if r is not None else None

    cap = Capture()
    logger = logging.getLogger('dkimpy-oracle')
    logger.handlers, logger.propagate = [cap], False
    logger.setLevel(logging.DEBUG)
    out = []
    try:
        d = dkim.DKIM(raw, logger=logger, minkey=1024)
    except Exception as e:  # header section not parseable by dkimpy
        d, why = None, 'message not parsed: %s' % e
    for idx in range(nsigs):
        cap.errors = []
        if d is None:
            res = 'permerror'
        else:
            try:
                ok = d.verify(idx=idx, dnsfunc=dnsfunc)
                why = '; '.join(cap.errors)
                if ok:
                    res = 'pass'
                elif any('DnsTimeoutError' in m for m in cap.errors):
                    res = 'temperror'
                else:
                    res = 'permerror' if cap.errors else 'fail'
            except dkim.ValidationError as e:
                res, why = ('fail' if 'body hash mismatch' in str(e) else 'permerror'), str(e)
            except Exception as e:  # DKIMException or a crash inside dkimpy
                res, why = 'permerror', '%s: %s' % (type(e).__name__, e)
        out.append(res)
        if verbose:
            sys.stderr.write('%s %d %s %s\n' % (path, idx + 1, res, why or ''))
    return out


def load_key(path, algorithm):
    """-> (algorithm, key bytes as dkimpy wants them)."""
    data = oc.read_file(path).strip()
    if b'-----BEGIN' in data:
        body = b''.join(l for l in data.splitlines() if not l.startswith(b'-----'))
        der = base64.b64decode(body)
        is_ed = b'\x06\x03\x2b\x65\x70' in der[:16]  # OID 1.3.101.112
        if algorithm is None:
            algorithm = 'ed25519-sha256' if is_ed else 'rsa-sha256'
        if algorithm.startswith('ed25519'):
            if not is_ed:
                oc.die('%s is not an Ed25519 PKCS#8 key' % path)
            return algorithm, base64.b64encode(der[-32:])
        return algorithm, data
    try:
        seed = base64.b64decode(data, validate=True)
    except ValueError:
        seed = b''
    if len(seed) != 32:
        oc.die('%s: neither a PEM key nor a base64 32-byte Ed25519 seed' % path)
    if algorithm not in (None, 'ed25519-sha256'):
        oc.die('an Ed25519 seed cannot sign %s' % algorithm)
    return 'ed25519-sha256', data


def sign(opts, path):
    raw = oc.read_file(path)
    algorithm, key = load_key(opts['key'], opts.get('algorithm'))
    c = opts.get('canonicalization', 'relaxed/simple').split('/')
    canon = (c[0].encode(), (c[1] if len(c) > 1 else 'simple').encode())
    d = dkim.DKIM(raw, linesep=b'\r\n' if b'\r\n' in raw else b'\n')
    headers = None
    if 'headers' in opts:
        headers = [h.strip().encode() for h in opts['headers'].split(':') if h.strip()]
        d.should_not_sign = set()  # sign exactly what was asked for
    try:
        sig = d.sign(opts['selector'].encode(), opts['domain'].encode(), key,
                     signature_algorithm=algorithm.encode(), canonicalize=canon,
                     include_headers=headers, length=bool(opts.get('body-length')))
    except dkim.DKIMException as e:
        oc.die('dkimpy cannot sign: %s' % e)
    sys.stdout.buffer.write(sig + raw)
    sys.stdout.flush()


def run(cmd, opts, files):
    if cmd == 'verify':
        recs = oc.load_records(opts['records'])
        oc.print_results(files, [verify_file(f, recs, opts.get('v'), opts.get('raw', False)) for f in files])
    else:
        sign(opts, files[0])


if __name__ == '__main__':
    oc.main_wrapper(__doc__, {'--key': True, '--domain': True, '--selector': True,
                              '--algorithm': True, '--canonicalization': True,
                              '--headers': True, '--body-length': False}, run)
