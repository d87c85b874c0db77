#!/usr/bin/python3
"""Reads Authentication-Results field values as a JSON list on stdin and prints, as one JSON
list, what Python's RFC 8601 parser (Debian python3-authres) reads in each: the authserv-id and,
per result, the method, the result and the properties [ptype, property, value].  A value that does
not parse gives {"error": "..."}.  Run with /usr/bin/python3."""
import json
import sys

import authres

out = []
for value in json.load(sys.stdin):
    try:
        h = authres.AuthenticationResultsHeader.parse('Authentication-Results:' + value.replace('\n', '\r\n'))
        out.append({
            'authserv_id': h.authserv_id,
            'results': [{'method': r.method, 'result': r.result,
                         'properties': [[p.type, p.name, p.value] for p in r.properties]} for r in h.results],
        })
    except Exception as e:  # noqa: BLE001 - every parse failure is reported, not raised
        out.append({'error': '%s: %s' % (type(e).__name__, e)})
json.dump(out, sys.stdout)
