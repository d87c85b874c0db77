"""The oracle for SPF: pyspf (Debian python3-spf) evaluates check_host() against the test DNS
server on 127.0.0.1:PORT. Reads "IP DOMAIN" lines on standard input (the sender is
postmaster@DOMAIN, the HELO name DOMAIN) and writes "IP DOMAIN RESULT" lines. Run with
/usr/bin/python3, where Debian's python3-spf and python3-dnspython are installed."""
import sys

import dns.resolver
import spf

resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ["127.0.0.1"]
resolver.port = int(sys.argv[1])
resolver.timeout = 2
resolver.lifetime = 4
dns.resolver.default_resolver = resolver

for line in sys.stdin:
    parts = line.split()
    if len(parts) != 2:
        continue
    ip, domain = parts
    result, _explanation = spf.check2(i=ip, s="postmaster@" + domain, h=domain, querytime=20)
    print(ip, domain, result, flush=True)
