#ifndef DKIM_COPENSSL_SHIM_H
#define DKIM_COPENSSL_SHIM_H
/* Only OpenSSL 3's non-deprecated EVP API is used; hide the deprecated one entirely. */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/crypto.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>

/* Function-like macros Swift cannot import. */
static inline long copenssl_bio_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}
static inline void copenssl_free(void *p) { OPENSSL_free(p); }
#endif
