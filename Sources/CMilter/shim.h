#ifndef DKIM_CMILTER_SHIM_H
#define DKIM_CMILTER_SHIM_H
/* stdbool.h first: without it mfapi.h typedefs bool to int. */
#include <stdbool.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <syslog.h>
#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

/* syslog is variadic: Swift cannot call it. */
static inline void cmilter_syslog(int priority, const char *message) {
    syslog(priority, "%s", message);
}
#endif
