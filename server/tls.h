/* TLS for server connections: mbedTLS driven through memory buffers, so
 * the libuv code owns the sockets (DESIGN.md "The server"). */
#ifndef MOX_SERVER_TLS_H
#define MOX_SERVER_TLS_H

#include <mox/core.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

/* Shared by all connections of a listener: certificate, key, RNG. */
typedef struct tls_config {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
} tls_config;

/* Load a PEM certificate chain and private key. 0, or -1 with errbuf. */
int tls_config_init(tls_config *c, const char *certfile, const char *keyfile, char *errbuf,
		    size_t errlen);
void tls_config_free(tls_config *c);

/* Make a self-signed ECDSA P-256 certificate for the host names (the first
 * is the subject CN; all are subjectAltNames), valid for 10 years, and
 * write certificate and key as PEM files (key mode 0600). */
int tls_selfsigned_write(const char *certfile, const char *keyfile,
			 const char *const *names, size_t nnames, char *errbuf, size_t errlen);

/* One connection's TLS state. Ciphertext from the network goes in with
 * tls_conn_feed; tls_conn_read gives plaintext; tls_conn_write takes
 * plaintext; ciphertext to send accumulates in out. */
typedef struct tls_conn {
	mbedtls_ssl_context ssl;
	mox_buf in;  /* ciphertext received, not yet consumed */
	mox_buf out; /* ciphertext to send */
	mox_buf early; /* plaintext written before the handshake ended (an
			  implicit-TLS greeting), sent right after it */
	bool handshake_done;
	bool closed; /* close_notify received or fatal error */
} tls_conn;

int tls_conn_init(tls_conn *t, tls_config *c);
void tls_conn_free(tls_conn *t);
/* Add received ciphertext. */
int tls_conn_feed(tls_conn *t, const void *data, size_t len);
/* Advance the handshake and append any plaintext to plain. Returns 0 (ok,
 * maybe nothing yet), or -1 on a fatal TLS error (errbuf says which). */
int tls_conn_read(tls_conn *t, mox_buf *plain, char *errbuf, size_t errlen);
/* Encrypt plaintext into t->out. 0 or -1. */
int tls_conn_write(tls_conn *t, const void *data, size_t len);

#endif
