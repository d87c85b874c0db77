/*
 * null-milter: a libmilter program that negotiates the protocol steps dkim-milter negotiates in
 * sign-only mode (leading spaces kept; no HELO, RCPT or unknown commands, and no DATA on a unix
 * socket; no replies to connect, MAIL, headers and body; end of headers answered, which
 * dkim-milter leaves without reply when it verifies) and does nothing: every message is accepted
 * unchanged at end of message.
 * dkim-bench postfix runs it to show what libmilter and Postfix cost by themselves, the floor
 * under any milter's figures.
 *
 * With a key (the `null-sign` path), it also does the least a signing milter must do at end of
 * message: one RSA-SHA256 signature (of a fixed 600-byte block, the size of a signed header
 * block) through OpenSSL, base64, and one header field added (X-Floor-Signature). No parsing,
 * no canonicalization, no body hash, no logging: the floor under any libmilter signer's figures.
 *
 * Usage: null-milter SOCKET [KEY.pem]   (SOCKET: unix:/path or inet:PORT@HOST)
 */
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The signing key, or NULL: accept every message unchanged. Shared read-only by every thread. */
static EVP_PKEY *signing_key = NULL;

/* Over TCP dkim-milter asks for the DATA step and answers it (see its MilterCallbacks.swift). */
static int over_tcp = 0;

static sfsistat nm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3) {
    (void) ctx; (void) f2; (void) f3;
    unsigned long noreply = SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR | SMFIP_NR_BODY;
    unsigned long wanted = SMFIP_HDR_LEADSPC | SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NOUNKNOWN
        | (over_tcp ? 0 : SMFIP_NODATA) | SMFIP_SKIP | noreply;
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS);
    *pf1 = f1 & wanted;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

static sfsistat nm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr) {
    (void) ctx; (void) host; (void) addr;
    return SMFIS_NOREPLY;
}

static sfsistat nm_envfrom(SMFICTX *ctx, char **argv) {
    (void) ctx; (void) argv;
    return SMFIS_NOREPLY;
}

static sfsistat nm_data(SMFICTX *ctx) {
    (void) ctx;
    return SMFIS_CONTINUE;
}

static sfsistat nm_header(SMFICTX *ctx, char *name, char *value) {
    (void) ctx; (void) name; (void) value;
    return SMFIS_NOREPLY;
}

static sfsistat nm_eoh(SMFICTX *ctx) {
    (void) ctx;
    return SMFIS_CONTINUE;
}

static sfsistat nm_body(SMFICTX *ctx, unsigned char *bytes, size_t length) {
    (void) ctx; (void) bytes; (void) length;
    return SMFIS_NOREPLY;
}

static sfsistat nm_eom(SMFICTX *ctx) {
    if (signing_key == NULL) return SMFIS_ACCEPT;
    static const char block_line[] = "from:Alice <alice@example.com>\r\n";
    unsigned char block[600];
    for (size_t i = 0; i < sizeof block; i++) block[i] = (unsigned char) block_line[i % (sizeof block_line - 1)];
    unsigned char signature[1024];
    size_t length = sizeof signature;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, signing_key) == 1
        && EVP_DigestSign(md, signature, &length, block, sizeof block) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) return SMFIS_TEMPFAIL;
    char field[1500];
    memcpy(field, "b=", 2);
    EVP_EncodeBlock((unsigned char *) field + 2, signature, (int) length);
    return smfi_insheader(ctx, 0, "X-Floor-Signature", field) == MI_SUCCESS ? SMFIS_ACCEPT : SMFIS_TEMPFAIL;
}

/* TCP_NODELAY on the listening TCP socket (accepted connections inherit it), as dkim-milter sets
 * it (its TCPNoDelay.swift): libmilter does not, and without it the header added at end of message
 * and the reply after it wait for the MTA's delayed ACK. */
static void set_tcp_nodelay_on_listeners(void) {
    long last = sysconf(_SC_OPEN_MAX);
    for (int fd = 0; fd < (last > 0 && last < 65536 ? last : 1024); fd++) {
        int type = 0, domain = 0, listening = 0, on = 1;
        socklen_t n = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n) != 0 || type != SOCK_STREAM) continue;
        n = sizeof domain;
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &n) != 0 || (domain != AF_INET && domain != AF_INET6))
            continue;
        n = sizeof listening;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &n) != 0 || !listening) continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: null-milter SOCKET [KEY.pem] (SOCKET: unix:/path or inet:PORT@HOST)\n");
        return 2;
    }
    if (argc == 3) {
        FILE *f = fopen(argv[2], "r");
        signing_key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
        if (f != NULL) fclose(f);
        if (signing_key == NULL) {
            fprintf(stderr, "null-milter: cannot read the private key %s\n", argv[2]);
            return 1;
        }
    }
    over_tcp = strncmp(argv[1], "inet", 4) == 0;
    struct smfiDesc desc;
    memset(&desc, 0, sizeof desc);
    desc.xxfi_name = "null-milter";
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
    desc.xxfi_connect = nm_connect;
    desc.xxfi_envfrom = nm_envfrom;
    desc.xxfi_data = nm_data;
    desc.xxfi_header = nm_header;
    desc.xxfi_eoh = nm_eoh;
    desc.xxfi_body = nm_body;
    desc.xxfi_eom = nm_eom;
    desc.xxfi_negotiate = nm_negotiate;
    if (smfi_register(desc) != MI_SUCCESS || smfi_setconn(argv[1]) != MI_SUCCESS || smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "null-milter: cannot listen on %s\n", argv[1]);
        return 1;
    }
    if (over_tcp) set_tcp_nodelay_on_listeners();
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
