/* mox/message.h -- Internet messages: RFC 5322, RFC 6532, MIME.
 *
 * The one message parser every other part of mox-c shares: DKIM reads the
 * raw header fields byte for byte, IMAP serves BODYSTRUCTURE, ENVELOPE and
 * BODY[section] from the part tree's offsets, the store indexes headers, the
 * junk filter reads decoded text, DMARC and TLSRPT unpack reports.
 *
 * In scope:
 *   - the header section (RFC 5322 section 2.2): fields with their raw bytes
 *     kept exactly, unfolding, lookup by name, the header/body boundary;
 *   - structured fields: address lists (RFC 5322 section 3.4, obsolete
 *     syntax of section 4.4 read leniently, RFC 6532 UTF-8), dates (section
 *     3.3 and 4.3), message identifiers (section 3.6.4), unstructured text
 *     with RFC 2047 encoded words;
 *   - MIME (RFC 2045, 2046, 2231): Content-Type with parameters (RFC 2231
 *     continuations, charsets and languages), Content-Transfer-Encoding,
 *     Content-Disposition, the part tree (multipart nesting, message/rfc822
 *     and message/global parsed as nested messages, RFC 6532 section 3.7)
 *     with byte offsets and line counts of every part's header and body;
 *   - decoding: base64 and quoted-printable as streams, charset conversion
 *     to UTF-8 (iconv), invalid input replaced (U+FFFD) and reported;
 *   - writing: header fields folded at 78 (hard limit 998, RFC 5322 section
 *     2.1.1), RFC 2047 encoding where needed, addresses, simple messages.
 *
 * Leniency: real mail is broken. The parser reads what mail clients read
 * (bare LF, missing final boundaries, 8-bit headers, overlong lines, header
 * lines without colon) and reports each problem as a warning bit; with
 * MOX_MSG_STRICT the first problem is an error instead.
 *
 * Memory: the part parser is fed the message in chunks of any size and keeps
 * only header sections (bounded by limits), never bodies, so a 100 MB
 * attachment costs nothing; nesting depth and part count have limits too.
 *
 * Out of scope: S/MIME and PGP, message/partial reassembly, mbox/maildir
 * (the store), HTML to text.
 */
#ifndef MOX_MESSAGE_H
#define MOX_MESSAGE_H

#include <mox/core.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOX_MESSAGE_VERSION_MAJOR 0
#define MOX_MESSAGE_VERSION_MINOR 1
#define MOX_MESSAGE_VERSION_PATCH 0
#define MOX_MESSAGE_VERSION_HEX                                                \
	((MOX_MESSAGE_VERSION_MAJOR << 16) | (MOX_MESSAGE_VERSION_MINOR << 8) |   \
	 MOX_MESSAGE_VERSION_PATCH)

/* Thread-safety: any thread. */
MOX_API unsigned mox_message_version(void);

/* RFC 5322 section 2.1.1: lines SHOULD be at most 78 characters and MUST be
 * at most 998, both without CRLF. */
#define MOX_MSG_LINE_SOFT 78
#define MOX_MSG_LINE_MAX 998

/* Problems found in lenient parsing, as bits in a warnings mask. */
enum {
	MOX_MSG_WARN_BARE_LF = 1u << 0,      /* LF without CR */
	MOX_MSG_WARN_BARE_CR = 1u << 1,      /* CR without LF */
	MOX_MSG_WARN_LONG_LINE = 1u << 2,    /* line over 998 octets */
	MOX_MSG_WARN_8BIT_HEADER = 1u << 3,  /* non-ASCII bytes in a header */
	MOX_MSG_WARN_NO_COLON = 1u << 4,     /* header line without ':' */
	MOX_MSG_WARN_NUL = 1u << 5,          /* NUL byte */
	MOX_MSG_WARN_NO_END_BOUNDARY = 1u << 6, /* multipart without closing */
	MOX_MSG_WARN_NO_BOUNDARY = 1u << 7,  /* multipart without boundary= */
	MOX_MSG_WARN_BAD_CONTENT_TYPE = 1u << 8, /* unparsable Content-Type */
	MOX_MSG_WARN_DUP_CONTENT_TYPE = 1u << 9, /* more than one */
	MOX_MSG_WARN_BAD_CTE = 1u << 10,     /* unknown transfer encoding */
	MOX_MSG_WARN_NO_BODY = 1u << 11,     /* no blank line: header only */
	MOX_MSG_WARN_BAD_ENCODING = 1u << 12, /* broken base64/QP data */
	MOX_MSG_WARN_BAD_CHARSET = 1u << 13, /* unknown charset, invalid bytes */
	MOX_MSG_WARN_BAD_FIELD = 1u << 14,   /* unparsable structured field */
	MOX_MSG_WARN_HEADER_SPACE = 1u << 15, /* space before ':' (obsolete) */
};

/* Describe a warning bit ("bare LF line ending"). NULL for unknown bits.
 * Thread-safety: any thread. */
MOX_API const char *mox_msg_warning_name(unsigned bit);

/* ---- header sections ---- */

/* One header field. All pointers point into the header section's copy of
 * the raw bytes, valid as long as the header is. */
typedef struct mox_msg_field {
	const uint8_t *raw; /* the whole field: name, colon, value, folds and
			       the final line ending, exactly as in the input */
	size_t raw_len;
	const uint8_t *name; /* field name, as written (case kept) */
	size_t name_len;
	const uint8_t *value; /* everything after the colon, folds kept,
				 without the final line ending */
	size_t value_len;
	size_t offset; /* of raw, from the start of the message */
} mox_msg_field;

typedef struct mox_msg_header {
	uint8_t *raw; /* the header section's bytes, without the blank line */
	size_t raw_len;
	size_t nfields;
	mox_msg_field *fields; /* in order of appearance */
	size_t offset;         /* of raw in the message */
	unsigned warnings;
	const mox_allocator *alloc;
} mox_msg_header;

/* Parse a header section (the bytes before the blank line, or the whole
 * input if there is none) into *header_out, copying the bytes. A line that
 * is neither a field (no colon) nor a continuation ends the header: it is
 * the first line of the body, as mail clients read such messages (a
 * message whose first line has no colon has no header at all); flagged
 * MOX_MSG_WARN_NO_COLON (MOX_ESYNTAX with MOX_MSG_STRICT).
 * *consumed_out (if not NULL) gets the offset of the body: after the blank
 * line, or len. Free with mox_msg_header_free.
 * Thread-safety: any thread. */
MOX_API mox_err mox_msg_header_parse(const uint8_t *data, size_t len,
				     unsigned flags,
				     const mox_allocator *alloc,
				     mox_msg_header **header_out,
				     size_t *consumed_out, mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per header. */
MOX_API void mox_msg_header_free(mox_msg_header *header);

/* The index-th field (0 = first) named name, case-insensitive; NULL if
 * there are fewer. Borrowed from header. Thread-safety: any thread (header
 * is not modified). */
MOX_API const mox_msg_field *mox_msg_header_get(const mox_msg_header *header,
						const char *name, size_t index);
/* How many fields are named name. Thread-safety: any thread. */
MOX_API size_t mox_msg_header_count(const mox_msg_header *header,
				    const char *name);

/* Append the field's value unfolded (RFC 5322 section 2.2.3: CRLF or LF
 * before white space removed), with leading and trailing white space
 * trimmed, to out. Thread-safety: per out. */
MOX_API mox_err mox_msg_field_unfold(const mox_msg_field *field, mox_buf *out);

/* ---- MIME ---- */

enum {
	/* Parse strictly: the first problem is an error, not a warning. */
	MOX_MSG_STRICT = 1u << 0,
};

/* A MIME parameter, RFC 2045 section 5.1 and RFC 2231. value is decoded
 * (continuations joined, percent-decoding done, converted to UTF-8 from the
 * RFC 2231 charset); charset and language are NULL unless RFC 2231 gave
 * them. name is lower case. */
typedef struct mox_msg_param {
	char *name;
	char *value;
	char *charset;
	char *language;
} mox_msg_param;

typedef struct mox_msg_params {
	size_t n;
	mox_msg_param *p;
} mox_msg_params;

/* The value of parameter name (case-insensitive), or NULL.
 * Thread-safety: any thread. */
MOX_API const char *mox_msg_params_get(const mox_msg_params *params,
				       const char *name);

/* A parsed Content-Type or Content-Disposition: "type/subtype; params" or
 * "disposition; params". Lower-cased type, subtype (NULL for a
 * disposition). */
typedef struct mox_msg_ctype {
	char *type;
	char *subtype;
	mox_msg_params params;
	const mox_allocator *alloc;
} mox_msg_ctype;

enum {
	/* Parse a Content-Disposition: a single token, no subtype. */
	MOX_MSG_CTYPE_DISPOSITION = 1u << 8,
};

/* Parse a Content-Type (or, with MOX_MSG_CTYPE_DISPOSITION, a
 * Content-Disposition) field value (unfolded or not). Comments are
 * skipped; bad parameters are dropped with a warning bit in *warnings_out
 * (MOX_ESYNTAX with MOX_MSG_STRICT); a missing or bad type/subtype is
 * MOX_ESYNTAX. Free with mox_msg_ctype_free.
 * Thread-safety: any thread. */
MOX_API mox_err mox_msg_ctype_parse(const uint8_t *value, size_t len,
				    unsigned flags, const mox_allocator *alloc,
				    mox_msg_ctype **ctype_out,
				    unsigned *warnings_out, mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per ctype. */
MOX_API void mox_msg_ctype_free(mox_msg_ctype *ctype);

/* Content-Transfer-Encoding, RFC 2045 section 6. */
typedef enum mox_msg_cte {
	MOX_MSG_CTE_7BIT = 0,
	MOX_MSG_CTE_8BIT,
	MOX_MSG_CTE_BINARY,
	MOX_MSG_CTE_QP,
	MOX_MSG_CTE_BASE64,
	MOX_MSG_CTE_UNKNOWN, /* treated as binary: passed through */
} mox_msg_cte;

/* Parse a Content-Transfer-Encoding value (case-insensitive, comments and
 * white space ignored). Thread-safety: any thread. */
MOX_API mox_msg_cte mox_msg_cte_parse(const uint8_t *value, size_t len);
/* "7bit", "quoted-printable", ... Thread-safety: any thread. */
MOX_API const char *mox_msg_cte_name(mox_msg_cte cte);

/* One part of a message. The message itself is the root part. Offsets are
 * from the start of the input; the part's bytes are [header_offset,
 * end_offset), its body [body_offset, end_offset). For a multipart, the
 * body holds preamble, children and epilogue; for message/rfc822 and
 * message/global the body is the nested message, which is the one child.
 * The line ending that precedes a boundary delimiter belongs to the
 * delimiter (RFC 2046 section 5.1.1), not to the part. */
typedef struct mox_msg_part mox_msg_part;
struct mox_msg_part {
	size_t header_offset;
	size_t body_offset;
	size_t end_offset;
	size_t header_lines; /* lines in the header section, with blank line */
	size_t body_lines;   /* lines in the body (IMAP "body-fld-lines") */
	mox_msg_header *header;

	/* From Content-Type, defaults per RFC 2045 section 5.2 (text/plain,
	 * charset us-ascii) or RFC 2046 section 5.1.5 (message/rfc822 in a
	 * multipart/digest). Lower case. */
	char *type;
	char *subtype;
	mox_msg_params params;     /* Content-Type parameters */
	const char *charset;       /* borrowed from params, or NULL */
	mox_msg_cte cte;
	char *disposition;         /* NULL if none */
	mox_msg_params disposition_params;
	const char *filename;      /* disposition filename or type name, or NULL */

	mox_msg_part *parent;
	mox_msg_part **children;
	size_t nchildren;
	unsigned depth;    /* root is 0 */
	unsigned warnings; /* problems in this part (not its children) */
};

/* A parsed message: the root part and everything below it. */
typedef struct mox_msg {
	mox_msg_part *root;
	size_t size;       /* bytes fed */
	unsigned warnings; /* union of all parts' warnings */
	size_t nparts;
	const mox_allocator *alloc;
} mox_msg;

typedef struct mox_msg_limits {
	size_t max_depth;        /* nesting; 0: 50 */
	size_t max_parts;        /* 0: 10000 */
	size_t max_header_bytes; /* one header section; 0: 1 MiB */
	size_t max_header_total; /* all header sections; 0: 16 MiB */
} mox_msg_limits;

typedef struct mox_msg_parse_opts {
	size_t size; /* sizeof(mox_msg_parse_opts) */
	const mox_allocator *alloc;
	unsigned flags; /* MOX_MSG_STRICT */
	mox_msg_limits limits;
} mox_msg_parse_opts;

/* Incremental parser: feed the message in chunks of any size, then end.
 * Memory is bounded by the limits, whatever the body sizes. */
typedef struct mox_msg_parser mox_msg_parser;

/* Thread-safety: any thread. */
MOX_API mox_err mox_msg_parser_new(mox_msg_parser **parser_out,
				   const mox_msg_parse_opts *opts);
/* Take len more bytes; they are not kept past the call. Errors: MOX_ELIMIT
 * (depth, part count or header size past the limit; *info says which),
 * MOX_ESYNTAX (strict mode), MOX_ENOMEM. An error sticks: later calls
 * return it again. Thread-safety: per handle. */
MOX_API mox_err mox_msg_parser_feed(mox_msg_parser *parser, const void *data,
				    size_t len);
/* End of input: close open parts and hand over the tree (free with
 * mox_msg_free). Thread-safety: per handle. */
MOX_API mox_err mox_msg_parser_end(mox_msg_parser *parser, mox_msg **msg_out);
/* Detail for the last error ("nesting deeper than 50 at offset 1234").
 * Borrowed. Thread-safety: per handle. */
MOX_API const char *mox_msg_parser_errmsg(const mox_msg_parser *parser);
/* NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_msg_parser_free(mox_msg_parser *parser);

/* One-shot helpers over the parser: a memory buffer, and a stdio stream
 * read in 64 KiB chunks from its current position. info gets the message
 * of an error. Thread-safety: any thread (per stream for the file). */
MOX_API mox_err mox_msg_parse(const void *data, size_t len,
			      const mox_msg_parse_opts *opts, mox_msg **msg_out,
			      mox_errinfo *info);
MOX_API mox_err mox_msg_parse_file(FILE *f, const mox_msg_parse_opts *opts,
				   mox_msg **msg_out, mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per message. */
MOX_API void mox_msg_free(mox_msg *msg);

/* The part at an IMAP section path ("1.2.3", RFC 9051 section 6.4.5): the
 * n-th child of a multipart; for message/rfc822 the path enters the nested
 * message's body parts. "" or NULL is the root. NULL when there is no such
 * part. Borrowed. Thread-safety: any thread. */
MOX_API const mox_msg_part *mox_msg_part_find(const mox_msg *msg,
					      const char *path);
/* Whether part is a multipart/... or a message/rfc822 or message/global
 * with a nested message. Thread-safety: any thread. */
MOX_API bool mox_msg_part_is_multipart(const mox_msg_part *part);
MOX_API bool mox_msg_part_is_message(const mox_msg_part *part);

/* ---- decoding ---- */

/* Streaming decoder for a transfer encoding and, optionally, a charset: raw
 * body bytes in, UTF-8 (or the raw decoded octets when charset is NULL)
 * out. Invalid base64/QP is decoded leniently and flagged
 * MOX_MSG_WARN_BAD_ENCODING; bytes invalid in the charset become U+FFFD
 * and flag MOX_MSG_WARN_BAD_CHARSET; an unknown charset is read as
 * ISO-8859-1 (never fails) and flagged. */
typedef struct mox_msg_decoder mox_msg_decoder;

/* charset NULL: no conversion. Thread-safety: any thread. */
MOX_API mox_err mox_msg_decoder_new(mox_msg_decoder **dec_out, mox_msg_cte cte,
				    const char *charset,
				    const mox_allocator *alloc);
/* Decode len bytes, appending output to out. Thread-safety: per handle. */
MOX_API mox_err mox_msg_decoder_feed(mox_msg_decoder *dec, const void *data,
				     size_t len, mox_buf *out);
/* Flush what is held back (a partial base64 quantum, a soft line break,
 * an incomplete multibyte sequence). Thread-safety: per handle. */
MOX_API mox_err mox_msg_decoder_end(mox_msg_decoder *dec, mox_buf *out);
/* Warnings seen so far. Thread-safety: per handle. */
MOX_API unsigned mox_msg_decoder_warnings(const mox_msg_decoder *dec);
/* NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_msg_decoder_free(mox_msg_decoder *dec);

/* Decode a whole part's body from the message bytes msg_data (the buffer
 * the message was parsed from), per its Content-Transfer-Encoding, to
 * UTF-8 for text parts (charset conversion) and to octets otherwise.
 * Thread-safety: per out. */
MOX_API mox_err mox_msg_part_decode(const mox_msg_part *part,
				    const uint8_t *msg_data, size_t msg_len,
				    mox_buf *out, unsigned *warnings_out);

/* Convert len bytes in charset (a MIME charset name; aliases such as
 * "latin1", "utf8", "ks_c_5601-1987" understood) to UTF-8, appended to out.
 * Invalid sequences become U+FFFD. Unknown charset: MOX_EUNSUPPORTED and
 * nothing appended. *replaced_out (if not NULL) is set when a replacement
 * was made. Thread-safety: per out. */
MOX_API mox_err mox_msg_charset_to_utf8(const char *charset, const void *data,
					size_t len, mox_buf *out,
					bool *replaced_out);

/* ---- unstructured text, RFC 2047 ---- */

/* Decode a header field value as unstructured text (RFC 5322 section
 * 3.2.5) and append it to out as UTF-8:
 *   - white space within a line is kept; a fold (a line break with the
 *     white space around it) reads as one space, as Go's net/textproto,
 *     which mox uses, unfolds; leading and trailing white space is dropped;
 *   - RFC 2047 encoded words (B and Q, any charset iconv knows, RFC 2231
 *     section 5 language suffix ignored) are decoded; white space between
 *     adjacent encoded words is dropped (RFC 2047 section 6.2); adjacent
 *     words of one charset are converted together, so a character split
 *     over two words survives;
 *   - leniently, as Go's mime.WordDecoder: an encoded word inside a word
 *     ("foo=?utf-8?q?bar?=baz" is "foobarbaz", no space added), spaces in
 *     Q text, a fold inside an encoded word (dropped). What does not have
 *     the encoded-word form stays literal text; B text that is not base64
 *     stays literal and sets MOX_MSG_WARN_BAD_ENCODING (so do bad Q
 *     escapes, which are kept); an unknown charset is read as ISO-8859-1
 *     and sets MOX_MSG_WARN_BAD_CHARSET;
 *   - raw UTF-8 passes through (RFC 6532); invalid UTF-8 becomes U+FFFD
 *     (MOX_MSG_WARN_BAD_CHARSET) and NUL, raw or decoded, becomes U+FFFD
 *     (MOX_MSG_WARN_NUL), so out always holds a C string.
 * This is for unstructured fields (Subject, Comments...): structured
 * fields have their own parsers below, which do not decode encoded words
 * in quoted strings (RFC 2047 section 5). Errors: MOX_EINVAL, MOX_ENOMEM
 * (out is then as it was). *warnings_out (if not NULL) gets the warnings.
 * Thread-safety: per out. */
MOX_API mox_err mox_msg_decode_text(const uint8_t *value, size_t len,
				    mox_buf *out, unsigned *warnings_out);

/* ---- addresses, RFC 5322 section 3.4 ---- */

typedef struct mox_msg_addr {
	char *name;   /* display name, decoded UTF-8; NULL if none */
	char *local;  /* local part, unquoted (RFC 5322 section 3.4.1) */
	char *domain; /* domain as written (may be UTF-8, RFC 6532), or a
			 domain literal "[192.0.2.1]"; NULL when the address
			 has no @ (lenient, e.g. "undisclosed-recipients") */
	char *group;  /* name of the group this address is in, or NULL.
			 The members of one group share one string
			 (pointer-equal), so two adjacent groups of the same
			 name stay apart; "" for a group without name */
} mox_msg_addr;

typedef struct mox_msg_addr_list {
	size_t n;
	mox_msg_addr *a;
	/* Groups with no members still appear, as one entry with group set
	 * and name/local/domain NULL ("undisclosed-recipients:;"). */
	const mox_allocator *alloc;
} mox_msg_addr_list;

/* Deepest comment nesting read in structured fields (addresses, dates,
 * message identifiers). Comments are scanned without recursion; the bound
 * makes a hostile "((((..." an unparsable entry rather than work. Not from
 * an RFC, which sets no limit. */
#define MOX_MSG_COMMENT_DEPTH_MAX 32

/* Parse an address-list / mailbox-list value (From, To, Cc, Reply-To,
 * Sender...), including groups, comments, RFC 2047 encoded display names,
 * quoted local parts, obsolete routes and syntax (RFC 5322 section 4.4;
 * the route is dropped, CFWS around dots removed). Comments are white
 * space, except that a mailbox without display name takes its first
 * comment as name ("jdoe@example.org (John Doe)"). Encoded words in quoted
 * strings are not decoded (RFC 2047 section 5).
 * Lenient, each flagged MOX_MSG_WARN_BAD_FIELD (MOX_ESYNTAX with
 * MOX_MSG_STRICT, info says where): unparsable entries are skipped and
 * reading goes on after the next comma; a local part without '@' is kept
 * with domain NULL; dots at the ends of a local part or doubled; '@' in a
 * display name; ';' as list separator; a group without ';' or without a
 * comma after it; a missing '>'; display-name words after the address.
 * Invalid UTF-8 and NUL become U+FFFD (MOX_MSG_WARN_BAD_CHARSET,
 * MOX_MSG_WARN_NUL). An empty value gives an empty list. Free with
 * mox_msg_addr_list_free. Thread-safety: any thread. */
MOX_API mox_err mox_msg_addr_list_parse(const uint8_t *value, size_t len,
					unsigned flags,
					const mox_allocator *alloc,
					mox_msg_addr_list **list_out,
					unsigned *warnings_out,
					mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per list. */
MOX_API void mox_msg_addr_list_free(mox_msg_addr_list *list);

/* ---- dates, RFC 5322 section 3.3 and 4.3 ---- */

typedef struct mox_msg_date {
	int year, month, day;      /* month 1-12 */
	int hour, minute, second;  /* second 60: a leap second */
	int tz_offset;             /* minutes east of UTC, -1439..1439; 0 also
				      for -0000 and unknown zones */
	time_t t;                  /* the instant, seconds since the epoch */
} mox_msg_date;

/* Parse a date-time: optional day of week, 2- and 3-digit years (section
 * 4.3), obsolete zones (UT, GMT, EST... and military letters, which count
 * as -0000 per section 4.3, as do unknown alphabetic zones; "EST5EDT"
 * counts as EST), comments anywhere, missing seconds. Also read, beyond
 * the RFC: full day and month names, a numeric month, a one-digit hour, a
 * missing zone (-0000) and a zone name after a numeric zone ("+0200
 * CEST"). Nothing else may follow: for a Received field, pass what
 * follows the last ';' (section 3.6.7). MOX_ESYNTAX for what cannot be
 * read, MOX_ERANGE for impossible values (31 February, 24:00, +2400, year
 * past 9999). Thread-safety: any thread. */
MOX_API mox_err mox_msg_date_parse(const uint8_t *value, size_t len,
				   mox_msg_date *date_out, mox_errinfo *info);

/* ---- message identifiers, RFC 5322 section 3.6.4 ---- */

typedef struct mox_msg_id_list {
	size_t n;
	char **ids; /* without angle brackets: "id-left@id-right", the bytes
		       between '<' and '>' as written, line breaks removed */
	const mox_allocator *alloc;
} mox_msg_id_list;

/* Parse Message-ID, In-Reply-To or References: msg-ids in angle brackets,
 * comments and folding skipped, obsolete phrases between ids ignored
 * (section 4.5.4), lenient about ids without '@' (as mox). A value
 * without any '<' that is a single word is taken as one id, flagged
 * MOX_MSG_WARN_BAD_FIELD; "<>", an unterminated '<' or a value with no id
 * give nothing for it, flagged too. So the list may be empty (n == 0),
 * which is not an error. Invalid UTF-8 and NUL become U+FFFD. Free with
 * mox_msg_id_list_free. Thread-safety: any thread. */
MOX_API mox_err mox_msg_id_list_parse(const uint8_t *value, size_t len,
				      const mox_allocator *alloc,
				      mox_msg_id_list **list_out,
				      unsigned *warnings_out);
/* NULL is a no-op. Thread-safety: per list. */
MOX_API void mox_msg_id_list_free(mox_msg_id_list *list);

/* ---- writing ---- */

/* Append "Name: value\r\n" to out, folding at white space so that lines
 * stay within 78 octets where possible (RFC 5322 section 2.2.3) and never
 * beyond 998; a fold inserts CRLF and removes no white space, except that
 * a run too long for any line becomes one space. value is unstructured
 * UTF-8 text, leading and trailing white space dropped ("Name:\r\n" when
 * nothing is left). Words are RFC 2047 encoded (UTF-8 Q or B words of at
 * most 75 characters holding whole characters, section 2 and 5) when they
 * have non-ASCII characters and smtputf8 is false (RFC 6532 allows raw
 * UTF-8 otherwise), control characters, or more than 997 octets (they
 * would fit no line); adjacent such words are encoded together with the
 * white space between them. Other words are written as they are, so a
 * structured value (addresses from mox_msg_write_addr joined with ", ",
 * which hold no such words) can be passed too; the price is that a word
 * that already looks like an encoded word is not escaped.
 * Errors: MOX_EINVAL for a name that is not 1-996 printable ASCII
 * characters without ':', a value that is not UTF-8 or holds CR or LF
 * (no header injection); MOX_ENOMEM. On error out is as it was.
 * Thread-safety: per out. */
MOX_API mox_err mox_msg_write_field(mox_buf *out, const char *name,
				    const char *value, bool smtputf8);
/* Append an address as it goes in a header: "Name <local@domain>", or
 * "<local@domain>" when name is NULL or "". The display name is written
 * as atoms when it is atext words with single spaces, else as a quoted
 * string, else (non-ASCII without smtputf8, control characters, "=?",
 * very long words or white space runs) as RFC 2047 encoded words (section
 * 5(3)). The local part is quoted if it is not a dot-atom. No folding:
 * pass the result (or a list of them) to mox_msg_write_field.
 * MOX_EINVAL: invalid UTF-8; a control character in the local part;
 * non-ASCII in local part or domain without smtputf8 (convert the domain
 * to A-labels first); domain NULL, empty, not a dot-atom or not a domain
 * literal of dtext; local and domain together over 900 octets. On error
 * out is as it was. Thread-safety: per out. */
MOX_API mox_err mox_msg_write_addr(mox_buf *out, const char *name,
				   const char *local, const char *domain,
				   bool smtputf8);
/* Append an RFC 5322 date-time for t in the given UTC offset (minutes):
 * "Mon, 2 Jan 2006 15:04:05 -0700". MOX_EINVAL for an offset outside
 * -1439..1439, MOX_ERANGE when the local date is outside the years
 * 1900-9999 (section 3.3). Thread-safety: per out. */
MOX_API mox_err mox_msg_write_date(mox_buf *out, time_t t, int tz_offset);

/* A simple message under construction: header fields, then either a single
 * body or multipart parts, written with CRLF line endings. Each call either
 * succeeds or leaves the writer as it was (MOX_ENOMEM included). */
typedef struct mox_msg_writer mox_msg_writer;

/* Thread-safety: any thread. */
MOX_API mox_err mox_msg_writer_new(mox_msg_writer **w_out,
				   const mox_allocator *alloc);
/* Add a header field (folded and encoded as mox_msg_write_field, without
 * SMTPUTF8). MIME-Version, Content-Type and Content-Transfer-Encoding are
 * the writer's own: MOX_EINVAL. Thread-safety: per handle. */
MOX_API mox_err mox_msg_writer_header(mox_msg_writer *w, const char *name,
				      const char *value);
/* Add a raw header field line, already formatted ("Name: value", folds as
 * CRLF or LF followed by white space; one trailing line ending allowed;
 * LF becomes CRLF). MOX_EINVAL for a line break that is not a fold, a
 * line of only white space, a line over 998 octets, a bad or reserved
 * name (as above). Thread-safety: per handle. */
MOX_API mox_err mox_msg_writer_header_raw(mox_msg_writer *w, const char *line);
/* Add a part: content type with parameters ("text/plain; charset=utf-8",
 * printable ASCII) and its content, encoded now (RFC 2045 section 6):
 * text/ parts get LF turned into CRLF and are written as 7bit, or as
 * quoted-printable when they have 8-bit bytes, NUL, a bare CR or lines
 * over 78; message/ and multipart/ parts are written as they are (LF made
 * CRLF, "7bit" or "8bit"), and must not hold NUL, a bare CR or lines over
 * 998 (MOX_EINVAL); other parts are base64. content_type NULL: data is a
 * whole MIME entity, its header, blank line and body (such as the output
 * of another writer's mox_msg_writer_finish, for a multipart/alternative
 * inside a multipart/mixed), written as it is under the same rules as
 * message/ parts. With one part and no multipart_type the part is the
 * whole body. Thread-safety: per handle. */
MOX_API mox_err mox_msg_writer_part(mox_msg_writer *w, const char *content_type,
				    const void *data, size_t len);
/* Finish: the header fields, then (when there are parts) MIME-Version and
 * the part's fields and body, or a multipart/<multipart_type> body (e.g.
 * "mixed", "report; report-type=delivery-status"; "mixed" when NULL and
 * there are several parts), appended to out. The boundary comes from a
 * hash of the parts (the same writer gives the same bytes) and is checked
 * against every part, so it does not occur in them (RFC 2046 section
 * 5.1.1). Without parts: the header and an empty body; MOX_EINVAL if a
 * multipart_type is given then. The writer can be finished again. On
 * error out is as it was. Thread-safety: per handle. */
MOX_API mox_err mox_msg_writer_finish(mox_msg_writer *w,
				      const char *multipart_type, mox_buf *out);
/* NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_msg_writer_free(mox_msg_writer *w);

#ifdef __cplusplus
}
#endif
#endif
