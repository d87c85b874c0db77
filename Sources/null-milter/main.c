/*
 * null-milter: a libmilter program that negotiates the protocol steps dkim-milter negotiates in
 * sign-only mode (leading spaces kept; no HELO, RCPT or unknown commands, and no DATA on a unix
 * socket; no replies to connect, MAIL, headers and body; end of headers answered, which
 * dkim-milter leaves without reply when it verifies) and does nothing: every message is accepted
 * unchanged at end of message.
 * dkim-bench postfix runs it to show what libmilter and Postfix cost by themselves, the floor
 * under any milter's figures.
 *
 * Usage: null-milter SOCKET   (unix:/path or inet:PORT@HOST)
 */
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    (void) ctx;
    return SMFIS_ACCEPT;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: null-milter SOCKET (unix:/path or inet:PORT@HOST)\n");
        return 2;
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
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
