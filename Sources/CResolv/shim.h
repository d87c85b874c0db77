#ifndef DKIM_CRESOLV_SHIM_H
#define DKIM_CRESOLV_SHIM_H
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <string.h>
#include <stdlib.h>

/* res_nquery and friends are macros over __res_n*; h_errno is a macro too.
   One private resolver state per lookup: thread-safe, no shared _res. */
static inline int cresolv_query_txt(const char *name, unsigned char *answer, int length, int *herr) {
    struct __res_state *st = calloc(1, sizeof(struct __res_state));
    if (st == NULL) { *herr = NO_RECOVERY; return -1; }
    if (res_ninit(st) != 0) { free(st); *herr = NO_RECOVERY; return -1; }
    int n = res_nquery(st, name, ns_c_in, ns_t_txt, answer, length);
    *herr = st->res_h_errno;
    res_nclose(st);
    free(st);
    return n;
}

/* The same with the name server (IPv4, port), timeout (seconds) and tries chosen by the caller;
   server NULL keeps /etc/resolv.conf's servers. */
static inline int cresolv_query_txt_at(const char *name, unsigned char *answer, int length, int *herr,
                                       const char *server, int port, int timeout, int tries) {
    struct __res_state *st = calloc(1, sizeof(struct __res_state));
    if (st == NULL) { *herr = NO_RECOVERY; return -1; }
    if (res_ninit(st) != 0) { free(st); *herr = NO_RECOVERY; return -1; }
    if (server != NULL) {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short) port);
        if (inet_pton(AF_INET, server, &sin.sin_addr) != 1) { res_nclose(st); free(st); *herr = NO_RECOVERY; return -1; }
        st->nsaddr_list[0] = sin;
        st->nscount = 1;
    }
    if (timeout > 0) st->retrans = timeout;
    if (tries > 0) st->retry = tries;
    int n = res_nquery(st, name, ns_c_in, ns_t_txt, answer, length);
    *herr = st->res_h_errno;
    res_nclose(st);
    free(st);
    return n;
}
#endif
