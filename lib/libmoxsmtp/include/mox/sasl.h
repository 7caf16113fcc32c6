/* mox/sasl.h -- SASL mechanisms (RFC 4422) for SMTP AUTH and IMAP
 * AUTHENTICATE, sans-IO, shared by libmoxsmtp's server and client and by
 * the IMAP core.
 *
 * Mechanisms: PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login), CRAM-MD5
 * (RFC 2195), SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677), and the
 * SCRAM -PLUS variants with channel binding (RFC 5929 tls-unique, RFC 9266
 * tls-exporter). The channel binding bytes come from the caller's TLS
 * library; this code only puts them in the exchange and checks them.
 *
 * Both sides exchange raw (decoded) messages: base64 and the protocol's
 * framing ("334 ", "+ ", "*" to abort) are the protocol core's job.
 *
 * The server side never sees a stored secret it is not given: for PLAIN and
 * LOGIN it hands the caller the password to check, for CRAM-MD5 it asks the
 * caller for the cleartext password, for SCRAM for the salted password
 * (mox_sasl_scram_secret), and does the arithmetic itself. Passwords and
 * keys held by a handle are wiped when they are no longer needed and at
 * _free.
 *
 * Out of scope: security layers (none of these mechanisms has one), GSSAPI,
 * OAUTHBEARER, SASLprep (RFC 4013): like mox, passwords are put in Unicode
 * NFC before SCRAM hashing (RFC 5802 section 2.2 allows this "as a
 * profile"), and SCRAM usernames must already be in NFC.
 */
#ifndef MOX_SASL_H
#define MOX_SASL_H

#include <mox/core.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Mechanisms, as bits so a set of them fits in an unsigned. */
typedef enum mox_sasl_mech {
	MOX_SASL_PLAIN = 1 << 0,
	MOX_SASL_LOGIN = 1 << 1,
	MOX_SASL_CRAM_MD5 = 1 << 2,
	MOX_SASL_SCRAM_SHA_1 = 1 << 3,
	MOX_SASL_SCRAM_SHA_1_PLUS = 1 << 4,
	MOX_SASL_SCRAM_SHA_256 = 1 << 5,
	MOX_SASL_SCRAM_SHA_256_PLUS = 1 << 6,
} mox_sasl_mech;

/* Every mechanism implemented. */
#define MOX_SASL_ALL 0x7fu
/* The -PLUS variants (need channel binding data). */
#define MOX_SASL_PLUS_MECHS (MOX_SASL_SCRAM_SHA_1_PLUS | MOX_SASL_SCRAM_SHA_256_PLUS)

/* Longest mechanism name, RFC 4422 section 3.1: 20 characters. */
#define MOX_SASL_MECH_NAME_MAX 20
/* Longest SCRAM salt we take, in bytes. */
#define MOX_SASL_SCRAM_SALT_MAX 64
/* Fewest SCRAM iterations a client accepts from a server: RFC 7677
 * section 4 asks for at least 4096 with SHA-256; we accept 2048 and up as
 * mox does, since servers with SHA-1 hashes made with 2048 exist. */
#define MOX_SASL_SCRAM_ITERATIONS_MIN 2048
/* Most iterations a client computes, against a server making it spin. */
#define MOX_SASL_SCRAM_ITERATIONS_MAX 1000000
/* Longest authentication or authorization identity, in bytes. */
#define MOX_SASL_NAME_MAX 1024
/* Longest password, in bytes. */
#define MOX_SASL_PASSWORD_MAX 1024

/* Name of one mechanism ("SCRAM-SHA-256-PLUS"); NULL if mech is not exactly
 * one known mechanism. Thread-safety: any thread. */
MOX_API const char *mox_sasl_mech_name(mox_sasl_mech mech);
/* Mechanism for a name, case-insensitive; 0 if unknown.
 * Thread-safety: any thread. */
MOX_API mox_sasl_mech mox_sasl_mech_from_name(const char *name, size_t len);

/* Fill buf with n cryptographically random bytes; 0 on success. Used for
 * nonces and CRAM-MD5 challenges. NULL wherever one is accepted means the
 * kernel's getrandom(). */
typedef int (*mox_sasl_random_fn)(void *arg, uint8_t *buf, size_t n);

/* Channel binding types (RFC 5056): which TLS value the caller supplies. */
typedef enum mox_sasl_cb_type {
	MOX_SASL_CB_NONE = 0,
	MOX_SASL_CB_TLS_UNIQUE,   /* RFC 5929 section 3, TLS 1.2 and earlier */
	MOX_SASL_CB_TLS_EXPORTER, /* RFC 9266, TLS 1.3: 32 bytes exported with
				     label "EXPORTER-Channel-Binding", empty
				     context */
} mox_sasl_cb_type;

/* Longest channel binding value we take. */
#define MOX_SASL_CB_DATA_MAX 64

/* What the caller stores for a SCRAM user: salt, iteration count and
 * either SaltedPassword (RFC 5802 section 3), 20 bytes for SHA-1 and 32
 * for SHA-256 (make one with mox_sasl_scram_secret_make), or, with
 * salted_password_len 0, only StoredKey and ServerKey (keys_len bytes
 * each): all a server needs, and what RFC 5802 section 3 advises a
 * server to keep, since SaltedPassword lets anyone holding it log in. */
typedef struct mox_sasl_scram_secret {
	uint8_t salt[MOX_SASL_SCRAM_SALT_MAX];
	size_t salt_len;
	uint32_t iterations;
	uint8_t salted_password[32];
	size_t salted_password_len;
	uint8_t stored_key[32];
	uint8_t server_key[32];
	size_t keys_len;
} mox_sasl_scram_secret;

/* Compute a SCRAM secret for storing: SaltedPassword = Hi(Normalize(password),
 * salt, iterations) (RFC 5802 section 3) with PBKDF2-HMAC-SHA-1 for
 * sha256 == false and PBKDF2-HMAC-SHA-256 otherwise. The password is put in
 * NFC first. salt_len 1..MOX_SASL_SCRAM_SALT_MAX, iterations >= 1.
 * \return MOX_OK, MOX_EINVAL, MOX_ENOMEM.
 * Thread-safety: any thread. */
MOX_API mox_err mox_sasl_scram_secret_make(bool sha256, const char *password,
					   size_t password_len, const uint8_t *salt,
					   size_t salt_len, uint32_t iterations,
					   mox_sasl_scram_secret *secret_out);

/* The CRAM-MD5 response digest (RFC 2195 section 2): lower-case hex of
 * HMAC-MD5(password, challenge), into out (33 bytes with NUL).
 * Thread-safety: any thread. */
MOX_API mox_err mox_sasl_cram_md5_digest(const uint8_t *password, size_t password_len,
					 const uint8_t *challenge, size_t challenge_len,
					 char out[33]);

/* ---- server ---- */

typedef struct mox_sasl_server mox_sasl_server;

typedef struct mox_sasl_server_opts {
	size_t size;                /* sizeof(mox_sasl_server_opts) */
	const mox_allocator *alloc; /* NULL: libc */
	mox_sasl_mech mech;         /* exactly one mechanism */
	/* Host name in the CRAM-MD5 challenge (RFC 2195 section 2); NULL:
	 * "localhost". */
	const char *hostname;
	mox_sasl_random_fn random;
	void *random_arg;
	/* Channel binding of the connection, if TLS: with it, the -PLUS
	 * mechanisms work and a client saying "y" (it thinks we lack -PLUS)
	 * is refused as a downgrade (RFC 5802 section 6). */
	mox_sasl_cb_type cb_type;
	const uint8_t *cb_data;
	size_t cb_len;
	/* Whether the -PLUS variants are offered to clients (they are only
	 * when cb_type is set). Used for the "y" flag check. */
	bool plus_offered;
	/* Tests only: the SCRAM server nonce part to use instead of a random
	 * one, to replay the RFC examples. NULL in production. */
	const char *fixed_nonce;
} mox_sasl_server_opts;

/* Where an exchange stands, after each call on a server. */
typedef enum mox_sasl_status {
	/* Send the challenge (mox_sasl_server_challenge, may be empty) and
	 * step with the client's next message. */
	MOX_SASL_CONTINUE = 1,
	/* PLAIN, LOGIN: check authc and the password (mox_sasl_server_authc,
	 * _authz, _password), then call mox_sasl_server_verdict. */
	MOX_SASL_CHECK_PASSWORD,
	/* CRAM-MD5: look up the cleartext password of authc and call
	 * mox_sasl_server_set_password (or _verdict(false) for an unknown
	 * user). */
	MOX_SASL_NEED_PASSWORD,
	/* SCRAM: look up authc's secret for this hash and call
	 * mox_sasl_server_set_scram (NULL for an unknown user). */
	MOX_SASL_NEED_SCRAM,
	/* Authenticated as authc (and authz, if given and allowed). */
	MOX_SASL_SUCCESS,
	/* Failed; mox_sasl_server_failure says why. */
	MOX_SASL_FAILURE,
} mox_sasl_status;

typedef enum mox_sasl_failure {
	MOX_SASL_FAIL_NONE = 0,
	MOX_SASL_FAIL_MALFORMED,       /* client message does not parse */
	MOX_SASL_FAIL_BAD_CREDENTIALS, /* wrong password or unknown user */
	MOX_SASL_FAIL_AUTHZ,           /* authz differs from authc: not supported */
	MOX_SASL_FAIL_CHANNEL_BINDING, /* missing, wrong or downgraded binding */
	MOX_SASL_FAIL_UNSUPPORTED,     /* mandatory extension, unknown cb type */
	MOX_SASL_FAIL_ABORTED,         /* the client cancelled ("*" in SMTP) */
} mox_sasl_failure;

/* New server exchange for one mechanism.
 * \return MOX_OK, MOX_EINVAL (no or several mechanisms, -PLUS without
 * channel binding), MOX_ENOMEM. Thread-safety: any thread. */
MOX_API mox_err mox_sasl_server_new(mox_sasl_server **server_out,
				    const mox_sasl_server_opts *opts);
/* Wipe and free. NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_sasl_server_free(mox_sasl_server *server);

/* Feed the client's next message (decoded). The first call gives the
 * initial response: has_data false means there was none (SMTP "AUTH PLAIN"
 * without argument), true with len 0 means an empty one ("=").
 * \param[out] status_out where the exchange stands.
 * \return MOX_OK, MOX_ESTATE (not expecting a message now), MOX_ENOMEM (the
 * handle is unchanged and the call may be repeated).
 * Thread-safety: per handle. */
MOX_API mox_err mox_sasl_server_step(mox_sasl_server *server, const uint8_t *data,
				     size_t len, bool has_data,
				     mox_sasl_status *status_out);
/* Answer MOX_SASL_CHECK_PASSWORD: ok true gives MOX_SASL_SUCCESS. Also
 * answers MOX_SASL_NEED_PASSWORD: false for an unknown user, or the
 * caller's own check of the CRAM-MD5 digest (mox_sasl_server_cram_md5)
 * against a stored secret that is not the password (the HMAC-MD5 inner
 * and outer states of RFC 2104 section 4, as mox keeps them).
 * Thread-safety: per handle. */
MOX_API mox_err mox_sasl_server_verdict(mox_sasl_server *server, bool ok,
					mox_sasl_status *status_out);
/* Answer MOX_SASL_NEED_PASSWORD with authc's cleartext password.
 * Thread-safety: per handle. */
MOX_API mox_err mox_sasl_server_set_password(mox_sasl_server *server,
					     const uint8_t *password, size_t len,
					     mox_sasl_status *status_out);
/* Answer MOX_SASL_NEED_SCRAM with authc's secret for this mechanism's hash
 * (salted_password_len 20 for SHA-1, 32 for SHA-256), or NULL for an
 * unknown user: the exchange then goes on with a random salt and fails at
 * the proof, so a client learns nothing about which users exist (RFC 5802
 * section 9). Thread-safety: per handle. */
MOX_API mox_err mox_sasl_server_set_scram(mox_sasl_server *server,
					  const mox_sasl_scram_secret *secret,
					  mox_sasl_status *status_out);

/* At MOX_SASL_NEED_PASSWORD (CRAM-MD5): the challenge sent (borrowed) and
 * the client's digest, 32 lower-case hex digits (borrowed), so the caller
 * can check HMAC-MD5(password, challenge) (RFC 2195 section 2) from
 * stored HMAC states and answer with mox_sasl_server_verdict.
 * \return MOX_OK, MOX_ESTATE (no CRAM-MD5 digest waits), MOX_EINVAL.
 * Thread-safety: per handle. */
MOX_API mox_err mox_sasl_server_cram_md5(const mox_sasl_server *server,
					 const uint8_t **challenge_out,
					 size_t *challenge_len_out,
					 const char **digest_out);

/* The challenge to send after MOX_SASL_CONTINUE; borrowed until the next
 * call. Thread-safety: per handle. */
MOX_API const uint8_t *mox_sasl_server_challenge(const mox_sasl_server *server,
						 size_t *len_out);
/* Authentication identity (username), once known; NULL before. Borrowed.
 * Thread-safety: per handle. */
MOX_API const char *mox_sasl_server_authc(const mox_sasl_server *server);
/* Authorization identity, "" if none. Borrowed. Thread-safety: per handle. */
MOX_API const char *mox_sasl_server_authz(const mox_sasl_server *server);
/* The password given by a PLAIN or LOGIN client, for the check; borrowed,
 * wiped at the verdict. Thread-safety: per handle. */
MOX_API const uint8_t *mox_sasl_server_password(const mox_sasl_server *server,
						size_t *len_out);
/* Why the exchange failed. Thread-safety: per handle. */
MOX_API mox_sasl_failure mox_sasl_server_failure(const mox_sasl_server *server);
/* A message saying what went wrong, "" if nothing. Borrowed.
 * Thread-safety: per handle. */
MOX_API const char *mox_sasl_server_errmsg(const mox_sasl_server *server);

/* ---- client ---- */

typedef struct mox_sasl_client mox_sasl_client;

typedef struct mox_sasl_client_opts {
	size_t size;                /* sizeof(mox_sasl_client_opts) */
	const mox_allocator *alloc; /* NULL: libc */
	mox_sasl_mech mech;         /* exactly one mechanism */
	const char *authc;          /* username, required */
	const char *authz;          /* authorization identity; NULL: none */
	const uint8_t *password;
	size_t password_len;
	/* For the -PLUS variants: the connection's channel binding. */
	mox_sasl_cb_type cb_type;
	const uint8_t *cb_data;
	size_t cb_len;
	/* For SCRAM without -PLUS: we would have used -PLUS but the server did
	 * not offer it, so we send "y" and a server that does support it can
	 * detect the downgrade (RFC 5802 section 6). */
	bool server_lacks_plus;
	mox_sasl_random_fn random;
	void *random_arg;
	/* Tests only: the SCRAM client nonce instead of a random one. */
	const char *fixed_nonce;
} mox_sasl_client_opts;

/* New client exchange. The password is copied (and wiped at _free).
 * \return MOX_OK, MOX_EINVAL, MOX_ENOMEM. Thread-safety: any thread. */
MOX_API mox_err mox_sasl_client_new(mox_sasl_client **client_out,
				    const mox_sasl_client_opts *opts);
/* Wipe and free. NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_sasl_client_free(mox_sasl_client *client);
/* The initial response, appended to out; *has_initial_out is false for
 * mechanisms that have none (LOGIN, CRAM-MD5): then send the bare AUTH and
 * step with the first challenge. Thread-safety: per handle. */
MOX_API mox_err mox_sasl_client_start(mox_sasl_client *client, mox_buf *out,
				      bool *has_initial_out);
/* Take a server challenge (decoded), append the response to out.
 * \return MOX_OK (send out), MOX_ESYNTAX (challenge does not parse),
 * MOX_EINVAL (server sent a SCRAM error, e= in errmsg, or its signature is
 * wrong: possibly not the real server), MOX_ERANGE (unsafe parameters: too
 * few iterations, short nonce or salt), MOX_ESTATE (no challenge
 * expected), MOX_ENOMEM. On error the exchange is over: cancel it ("*").
 * Thread-safety: per handle. */
MOX_API mox_err mox_sasl_client_step(mox_sasl_client *client, const uint8_t *challenge,
				     size_t len, mox_buf *out);
/* Whether the client has sent its last message. For SCRAM also that the
 * server proved it knows the password: treat a success reply from a SCRAM
 * server without this as a failure. Thread-safety: per handle. */
MOX_API bool mox_sasl_client_done(const mox_sasl_client *client);
/* Detail of the last error, "" if none. Thread-safety: per handle. */
MOX_API const char *mox_sasl_client_errmsg(const mox_sasl_client *client);

#ifdef __cplusplus
}
#endif
#endif
