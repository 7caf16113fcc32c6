/* TLS through memory buffers with mbedTLS 2.28.
 *
 * The BIO callbacks never touch a socket: send appends to t->out, recv
 * takes from t->in or says WANT_READ. The connection code moves bytes
 * between those buffers and libuv. TLS 1.2 and 1.3 where mbedTLS has
 * them; no renegotiation. */
#include "tls.h"

#include <fcntl.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_csr.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void
errstr(int rc, char *errbuf, size_t errlen, const char *what)
{
	char m[160];
	mbedtls_strerror(rc, m, sizeof(m));
	snprintf(errbuf, errlen, "%s: %s (-0x%04x)", what, m, (unsigned)-rc);
}

static int
rng_init(mbedtls_entropy_context *e, mbedtls_ctr_drbg_context *d)
{
	mbedtls_entropy_init(e);
	mbedtls_ctr_drbg_init(d);
	static const unsigned char pers[] = "mox-c tls";
	return mbedtls_ctr_drbg_seed(d, mbedtls_entropy_func, e, pers, sizeof(pers) - 1);
}

int
tls_config_init(tls_config *c, const char *certfile, const char *keyfile, char *errbuf,
		size_t errlen)
{
	memset(c, 0, sizeof(*c));
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_x509_crt_init(&c->cert);
	mbedtls_pk_init(&c->key);
	int rc = rng_init(&c->entropy, &c->drbg);
	if (rc != 0) {
		errstr(rc, errbuf, errlen, "seeding random generator");
		return -1;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&c->cert, certfile)) != 0) {
		errstr(rc, errbuf, errlen, certfile);
		return -1;
	}
	if ((rc = mbedtls_pk_parse_keyfile(&c->key, keyfile, NULL)) != 0) {
		errstr(rc, errbuf, errlen, keyfile);
		return -1;
	}
	if ((rc = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_SERVER,
					      MBEDTLS_SSL_TRANSPORT_STREAM,
					      MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		errstr(rc, errbuf, errlen, "TLS defaults");
		return -1;
	}
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3); /* TLS 1.2+ */
	mbedtls_ssl_conf_renegotiation(&c->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	if ((rc = mbedtls_ssl_conf_own_cert(&c->conf, &c->cert, &c->key)) != 0) {
		errstr(rc, errbuf, errlen, "certificate and key");
		return -1;
	}
	return 0;
}

void
tls_config_free(tls_config *c)
{
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_x509_crt_free(&c->cert);
	mbedtls_pk_free(&c->key);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->entropy);
}

static int
write_file(const char *path, const unsigned char *data, size_t len, mode_t mode)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	bool ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
tls_selfsigned_write(const char *certfile, const char *keyfile, const char *const *names,
		     size_t nnames, char *errbuf, size_t errlen)
{
	mbedtls_entropy_context e;
	mbedtls_ctr_drbg_context d;
	mbedtls_pk_context key;
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	unsigned char buf[8192];
	int ret = -1, rc;
	if ((rc = rng_init(&e, &d)) != 0) {
		errstr(rc, errbuf, errlen, "random");
		goto out;
	}
	if ((rc = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0 ||
	    (rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
				      mbedtls_ctr_drbg_random, &d)) != 0) {
		errstr(rc, errbuf, errlen, "generating key");
		goto out;
	}
	char subject[300];
	snprintf(subject, sizeof(subject), "CN=%s", nnames > 0 ? names[0] : "localhost");
	unsigned char sbytes[16];
	mbedtls_ctr_drbg_random(&d, sbytes, sizeof(sbytes));
	sbytes[0] &= 0x7f;
	mbedtls_mpi_read_binary(&serial, sbytes, sizeof(sbytes));
	time_t now = time(NULL);
	struct tm a, b;
	gmtime_r(&now, &a);
	time_t later = now + 10 * 365 * 86400L;
	gmtime_r(&later, &b);
	char nb[16], na[16];
	strftime(nb, sizeof(nb), "%Y%m%d%H%M%S", &a);
	strftime(na, sizeof(na), "%Y%m%d%H%M%S", &b);
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &key);
	mbedtls_x509write_crt_set_issuer_key(&crt, &key);
	if ((rc = mbedtls_x509write_crt_set_subject_name(&crt, subject)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_issuer_name(&crt, subject)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_serial(&crt, &serial)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_validity(&crt, nb, na)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1)) != 0) {
		errstr(rc, errbuf, errlen, "certificate fields");
		goto out;
	}
	/* subjectAltName: a SEQUENCE of dNSName [2] IA5String, DER by hand
	 * (mbedTLS 2.28 has no writer for it). */
	unsigned char san[1024];
	size_t o = 0;
	for (size_t i = 0; i < nnames; i++) {
		size_t n = strlen(names[i]);
		if (n > 120 || o + n + 2 > sizeof(san) - 4)
			break;
		san[4 + o++] = 0x82;
		san[4 + o++] = (unsigned char)n;
		memcpy(san + 4 + o, names[i], n);
		o += n;
	}
	size_t start;
	if (o < 128) {
		start = 2;
		san[2] = 0x30;
		san[3] = (unsigned char)o;
	} else {
		start = 1;
		san[1] = 0x30;
		san[2] = 0x81;
		san[3] = (unsigned char)o;
	}
	if (nnames > 0 &&
	    (rc = mbedtls_x509write_crt_set_extension(&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
						      MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
						      san + start, o + 4 - start)) != 0) {
		errstr(rc, errbuf, errlen, "subjectAltName");
		goto out;
	}
	if ((rc = mbedtls_pk_write_key_pem(&key, buf, sizeof(buf))) != 0) {
		errstr(rc, errbuf, errlen, "writing key");
		goto out;
	}
	if (write_file(keyfile, buf, strlen((char *)buf), 0600) != 0) {
		snprintf(errbuf, errlen, "writing %s failed", keyfile);
		goto out;
	}
	if ((rc = mbedtls_x509write_crt_pem(&crt, buf, sizeof(buf), mbedtls_ctr_drbg_random,
					    &d)) != 0) {
		errstr(rc, errbuf, errlen, "writing certificate");
		goto out;
	}
	if (write_file(certfile, buf, strlen((char *)buf), 0644) != 0) {
		snprintf(errbuf, errlen, "writing %s failed", certfile);
		goto out;
	}
	ret = 0;
out:
	mbedtls_platform_zeroize(buf, sizeof(buf));
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	mbedtls_pk_free(&key);
	mbedtls_ctr_drbg_free(&d);
	mbedtls_entropy_free(&e);
	return ret;
}

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	tls_conn *t = ctx;
	if (mox_buf_append(&t->out, buf, len) != MOX_OK)
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	return (int)len;
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	tls_conn *t = ctx;
	if (t->in.len == 0)
		return MBEDTLS_ERR_SSL_WANT_READ;
	size_t n = len < t->in.len ? len : t->in.len;
	memcpy(buf, t->in.data, n);
	mox_buf_consume(&t->in, n);
	return (int)n;
}

int
tls_conn_init(tls_conn *t, tls_config *c)
{
	memset(t, 0, sizeof(*t));
	mox_buf_init(&t->in, NULL);
	mox_buf_init(&t->out, NULL);
	mox_buf_init(&t->early, NULL);
	mbedtls_ssl_init(&t->ssl);
	if (mbedtls_ssl_setup(&t->ssl, &c->conf) != 0)
		return -1;
	mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
	return 0;
}

void
tls_conn_free(tls_conn *t)
{
	mbedtls_ssl_free(&t->ssl);
	mox_buf_free(&t->in);
	mox_buf_free(&t->out);
	mox_buf_free(&t->early);
}

int
tls_conn_feed(tls_conn *t, const void *data, size_t len)
{
	/* Bound what a peer can make us hold before we read it. */
	if (t->in.len + len > (1u << 20))
		return -1;
	return mox_buf_append(&t->in, data, len) == MOX_OK ? 0 : -1;
}

int
tls_conn_read(tls_conn *t, mox_buf *plain, char *errbuf, size_t errlen)
{
	if (t->closed)
		return 0;
	if (!t->handshake_done) {
		int rc = mbedtls_ssl_handshake(&t->ssl);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			return 0;
		if (rc != 0) {
			errstr(rc, errbuf, errlen, "TLS handshake");
			t->closed = true;
			return -1;
		}
		t->handshake_done = true;
		if (t->early.len > 0) {
			int w = tls_conn_write(t, t->early.data, t->early.len);
			mox_buf_free(&t->early);
			if (w != 0) {
				snprintf(errbuf, errlen, "TLS write failed");
				t->closed = true;
				return -1;
			}
		}
	}
	unsigned char buf[16384];
	for (;;) {
		int rc = mbedtls_ssl_read(&t->ssl, buf, sizeof(buf));
		if (rc > 0) {
			if (mox_buf_append(plain, buf, (size_t)rc) != MOX_OK)
				return -1;
			continue;
		}
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			return 0;
		if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			t->closed = true;
			return 0;
		}
		errstr(rc, errbuf, errlen, "TLS read");
		t->closed = true;
		return -1;
	}
}

int
tls_conn_write(tls_conn *t, const void *data, size_t len)
{
	if (!t->handshake_done)
		return mox_buf_append(&t->early, data, len) == MOX_OK ? 0 : -1;
	const unsigned char *p = data;
	while (len > 0) {
		int rc = mbedtls_ssl_write(&t->ssl, p, len);
		if (rc < 0)
			return -1; /* the BIO never blocks, so this is fatal */
		p += rc;
		len -= (size_t)rc;
	}
	return 0;
}
