#ifndef DKIM_CLIBPQ_SHIM_H
#define DKIM_CLIBPQ_SHIM_H
/* PostgreSQL's client library (Debian's libpq-dev). Only DKIMPostgres imports this module. */
#include <libpq-fe.h>
#endif
