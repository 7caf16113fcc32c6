/* mox/core.h -- the small base every mox-c library links.
 *
 * What is here: the export macro (MOX_API), version macros, the one error
 * vocabulary of the collection (mox_err, written once as an X-macro), the
 * optional per-handle allocator (mox_allocator) with overflow-checked
 * helpers, a growable byte buffer (mox_buf) and base64 (RFC 4648 section 4).
 * Nothing here keeps global state, prints or aborts.
 */
#ifndef MOX_CORE_H
#define MOX_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols of the public API; everything else is hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define MOX_API __attribute__((visibility("default")))
#else
#define MOX_API
#endif

#define MOX_CORE_VERSION_MAJOR 0
#define MOX_CORE_VERSION_MINOR 1
#define MOX_CORE_VERSION_PATCH 0
#define MOX_CORE_VERSION_HEX                                                   \
	((MOX_CORE_VERSION_MAJOR << 16) | (MOX_CORE_VERSION_MINOR << 8) |         \
	 MOX_CORE_VERSION_PATCH)

/* Version of the library linked at run time, as MOX_CORE_VERSION_HEX.
 * Thread-safety: any thread. */
MOX_API unsigned mox_core_version(void);

/* The error list: X(NAME, value, "message"). Values are negative, stable and
 * append-only; MOX_OK is 0. Outcomes of protocols (SPF fail, NXDOMAIN) are
 * not errors: mox_err means "could not compute". */
#define MOX_ERR_MAP(X)                                                         \
	X(OK, 0, "success")                                                    \
	X(ENOMEM, -1, "out of memory")                                         \
	X(EINVAL, -2, "invalid argument")                                      \
	X(EAGAIN, -3, "more input needed")                                     \
	X(ECANCELED, -4, "operation canceled")                                 \
	X(ESYNTAX, -5, "syntax error")                                         \
	X(ERANGE, -6, "value out of range")                                    \
	X(ELIMIT, -7, "limit exceeded")                                        \
	X(EIO, -8, "input/output error")                                       \
	X(ETIMEDOUT, -9, "timed out")                                          \
	X(ENOTFOUND, -10, "not found")                                         \
	X(EUNSUPPORTED, -11, "not supported")                                  \
	X(ENAME, -12, "invalid domain name")                                   \
	X(EIDNA, -13, "invalid internationalized domain name")                 \
	X(EDNS, -14, "DNS lookup failed")                                      \
	X(EEXIST, -15, "already exists")                                       \
	X(ESTATE, -16, "operation not valid in this state")

typedef enum mox_err {
#define MOX__ERR_ENUM(name, value, msg) MOX_##name = value,
	MOX_ERR_MAP(MOX__ERR_ENUM)
#undef MOX__ERR_ENUM
} mox_err;

/* Human-readable message for an error code; never NULL (unknown codes give
 * "unknown error"). Thread-safety: any thread. */
MOX_API const char *mox_strerror(mox_err err);
/* Symbolic name ("MOX_ENOMEM") of an error code; never NULL.
 * Thread-safety: any thread. */
MOX_API const char *mox_err_name(mox_err err);

/* Detail for parsers that have no handle: the code, the byte offset into the
 * input where the problem was found, and a message such as
 * "label longer than 63 octets at 17". */
typedef struct mox_errinfo {
	mox_err code;
	size_t offset;
	char msg[256];
} mox_errinfo;

/* Fill *info (if not NULL) with code, offset and a printf-style message;
 * returns code so callers can write `return mox_errinfo_set(...)`.
 * Thread-safety: per errinfo. */
MOX_API mox_err mox_errinfo_set(mox_errinfo *info, mox_err code,
				size_t offset, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Per-handle allocator. NULL wherever one is accepted means libc. The
 * functions get ud first; free(NULL) must be a no-op. */
typedef struct mox_allocator {
	void *(*malloc)(void *ud, size_t size);
	void *(*realloc)(void *ud, void *ptr, size_t size);
	void (*free)(void *ud, void *ptr);
	void *ud;
} mox_allocator;

/* Allocation helpers for library code. mox_mem_calloc and mox_mem_reallocarray
 * check n * size for overflow and fail with NULL. mox_mem_strdup/strndup copy
 * text. All accept a NULL allocator (libc). Thread-safety: as the allocator;
 * libc's is any thread. */
MOX_API void *mox_mem_alloc(const mox_allocator *a, size_t size);
MOX_API void *mox_mem_calloc(const mox_allocator *a, size_t n, size_t size);
MOX_API void *mox_mem_realloc(const mox_allocator *a, void *ptr, size_t size);
MOX_API void *mox_mem_reallocarray(const mox_allocator *a, void *ptr, size_t n,
				   size_t size);
MOX_API void mox_mem_free(const mox_allocator *a, void *ptr);
MOX_API char *mox_mem_strdup(const mox_allocator *a, const char *s);
MOX_API char *mox_mem_strndup(const mox_allocator *a, const char *s, size_t n);

/* Wipe memory holding secrets in a way the compiler keeps.
 * Thread-safety: any thread. */
MOX_API void mox_mem_wipe(void *ptr, size_t len);

/* A growable byte buffer. The bytes are always followed by a NUL (not counted
 * in len) once anything has been added, so text can be used as a C string.
 * Initialise with mox_buf_init (or MOX_BUF_INIT for libc). On ENOMEM the
 * buffer is unchanged. Thread-safety: per buffer. */
typedef struct mox_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max; /* 0: no limit; otherwise appends past max fail ELIMIT */
	const mox_allocator *alloc;
} mox_buf;

#define MOX_BUF_INIT {NULL, 0, 0, 0, NULL}

MOX_API void mox_buf_init(mox_buf *b, const mox_allocator *alloc);
/* Make room for at least extra more bytes (plus the NUL). */
MOX_API mox_err mox_buf_reserve(mox_buf *b, size_t extra);
MOX_API mox_err mox_buf_append(mox_buf *b, const void *data, size_t len);
MOX_API mox_err mox_buf_append_str(mox_buf *b, const char *s);
MOX_API mox_err mox_buf_append_byte(mox_buf *b, uint8_t c);
MOX_API mox_err mox_buf_appendf(mox_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (n > len drops all). */
MOX_API void mox_buf_consume(mox_buf *b, size_t n);
/* Set len to 0, keep the memory. */
MOX_API void mox_buf_reset(mox_buf *b);
/* Hand the bytes to the caller (free with mox_mem_free and the buffer's
 * allocator); the buffer is empty afterwards. Never NULL unless ENOMEM: an
 * empty buffer gives an allocated "". *len_out (if not NULL) gets the length. */
MOX_API uint8_t *mox_buf_steal(mox_buf *b, size_t *len_out);
/* Release the memory; the buffer is empty and reusable. */
MOX_API void mox_buf_free(mox_buf *b);

/* Base64, RFC 4648 section 4 (standard alphabet, '=' padding). */
/* Length of the encoding of n bytes, without NUL; SIZE_MAX on overflow. */
MOX_API size_t mox_base64_encoded_len(size_t n);
/* Append the encoding of data to out. Thread-safety: per buffer. */
MOX_API mox_err mox_base64_encode(mox_buf *out, const void *data, size_t len);

enum {
	/* Skip ASCII white space (SP, HTAB, CR, LF) anywhere, as DKIM's b= and
	 * p= tags need (RFC 6376 section 3.5). */
	MOX_BASE64_IGNORE_SPACE = 1 << 0,
	/* Accept missing '=' padding at the end. */
	MOX_BASE64_NOPAD = 1 << 1,
};
/* Decode base64 text and append the bytes to out. Fails with MOX_ESYNTAX
 * (info->offset at the offending character) on a character outside the
 * alphabet, misplaced or wrong padding, or non-zero trailing bits.
 * Thread-safety: per buffer. */
MOX_API mox_err mox_base64_decode(mox_buf *out, const char *text, size_t len,
				  unsigned flags, mox_errinfo *info);

/* Consistency checks for branches that cannot be taken. In debug builds they
 * assert, in release builds they evaluate to the condition so the defensive
 * code still runs. */
#ifdef NDEBUG
#define MOX_ALWAYS(x) (x)
#define MOX_NEVER(x) (x)
#else
#include <assert.h>
#define MOX_ALWAYS(x) ((x) ? 1 : (assert(0 && #x), 0))
#define MOX_NEVER(x) ((x) ? (assert(0 && #x), 1) : 0)
#endif

#ifdef __cplusplus
}
#endif
#endif
