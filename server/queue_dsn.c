/* Delivery status notifications for queued messages (RFC 3464), in mox's
 * style: composed by libmoxsmtp (mox/dsn.h) as a multipart/report
 * (RFC 6522) with a text part for people, a message/delivery-status part,
 * and the original message's headers (text/rfc822-headers), or the whole
 * message with RET=FULL (RFC 3461 section 4.3). Sent from the postmaster
 * with the null reverse path (RFC 5321 section 4.5.5), so no DSN is ever
 * made for a DSN. What is here: when a DSN is due (queue_dsn_queue), and
 * the fields we give the composer.
 */
#define _GNU_SOURCE
#include "queue.h"

#include <mox/dsn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

/* Header-safe copy of text from remote servers: controls become spaces. */
static char *
clean(const char *s)
{
	char *d = strdup(s != NULL ? s : "");
	if (d == NULL)
		abort();
	for (char *p = d; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return d;
}

mox_err
queue_dsn_compose(const queue_settings *s, const queue_msg *m, const uint8_t *orig,
                  size_t orig_len, queue_dsn_action action, const char *status,
                  const char *remote_mta, const char *diagnostic,
                  int64_t will_retry_until, char **msg_out, size_t *len_out)
{
	*msg_out = NULL;
	*len_out = 0;
	bool failed = action == QUEUE_DSN_FAILED;
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint64_t)time(NULL) ^ (uint64_t)m->id;
	char from[512], msgid[512], text[2048];
	snprintf(from, sizeof(from), "%s@%s",
	         s->postmaster != NULL ? s->postmaster : "postmaster", s->hostname);
	snprintf(msgid, sizeof(msgid), "%016llx@%s", (unsigned long long)rnd,
	         s->hostname);
	char *diag = clean(diagnostic);
	char *orcpt = clean(m->dsn_orcpt);
	char *envid = clean(m->dsn_envid);
	snprintf(
	    text, sizeof(text),
	    "%s\n\n\t%s\n\n%s\n\nError during the last delivery attempt:\n\n\t%s\n",
	    failed ? "Delivery has failed permanently for your email to:"
	           : "Delivery has been delayed for your email to:",
	    m->recipient,
	    failed ? "No further deliveries will be attempted."
	           : "Delivery will be attempted again; you will be notified if it "
	             "fails permanently.",
	    diag);
	int64_t now = queue_now(s);
	mox_dsn_rcpt r = {
	    .final_recipient = m->recipient,
	    .original_recipient = orcpt[0] != '\0' ? orcpt : NULL,
	    .action = failed ? MOX_DSN_FAILED : MOX_DSN_DELAYED,
	    .status = status != NULL && status[0] != '\0' ? status : NULL,
	    .remote_mta =
	        remote_mta != NULL && remote_mta[0] != '\0' ? remote_mta : NULL,
	    .diagnostic_code = diag[0] != '\0' ? diag : NULL,
	    .last_attempt = (m->last_attempt != 0 ? m->last_attempt : now) / 1000,
	    .will_retry_until = failed ? 0 : will_retry_until / 1000,
	};
	mox_dsn d = {
	    .size = sizeof(d),
	    .from = from,
	    .to = m->sender,
	    .subject = failed ? "mail delivery failed" : "mail delivery delayed",
	    .message_id = msgid,
	    .date = now / 1000,
	    .text = text,
	    .reporting_mta = s->hostname,
	    .original_envelope_id = envid[0] != '\0' ? envid : NULL,
	    .arrival_date = m->queued / 1000,
	    .rcpts = &r,
	    .nrcpts = 1,
	    .original = orig,
	    .original_len = orig_len,
	    .full = m->dsn_ret_full,
	    .smtputf8 = m->smtputf8,
	};
	mox_buf b;
	mox_buf_init(&b, NULL);
	mox_errinfo info;
	memset(&info, 0, sizeof(info));
	mox_err err = mox_dsn_compose(&d, NULL, &b, &info);
	free(diag);
	free(orcpt);
	free(envid);
	if (err != MOX_OK) {
		mox_buf_free(&b);
		return err;
	}
	size_t n = 0;
	uint8_t *p = mox_buf_steal(&b, &n);
	if (p == NULL)
		return MOX_ENOMEM;
	*len_out = n;
	*msg_out = (char *)p; /* libc allocator: free() */
	return MOX_OK;
}

mox_err
queue_dsn_queue(const queue_settings *s, queue_store *qs, const queue_msg *m,
                queue_dsn_action action, const char *status, const char *remote_mta,
                const char *diagnostic, int64_t will_retry_until, char *errbuf,
                size_t errlen)
{
	/* RFC 3464 section 2.0 / RFC 5321 section 3.6.3: never a DSN for a
	 * DSN, nor to the null reverse path. */
	if (m->is_dsn || m->sender[0] == '\0')
		return MOX_OK;
	/* RFC 3461 section 4.1: NOTIFY=NEVER, or a NOTIFY list without this
	 * condition. Without NOTIFY, failures are reported and delays may be
	 * (mox sends both). */
	if (m->dsn_notify[0] != '\0') {
		const char *want = action == QUEUE_DSN_FAILED ? "FAILURE" : "DELAY";
		if (strcasestr(m->dsn_notify, want) == NULL)
			return MOX_OK;
	}
	uint8_t *orig = NULL;
	size_t olen = 0;
	mox_err err = queue_store_read_message(qs, m, &orig, &olen, errbuf, errlen);
	if (err != MOX_OK)
		return err;
	char *dsn = NULL;
	size_t dlen = 0;
	err = queue_dsn_compose(s, m, orig, olen, action, status, remote_mta,
	                        diagnostic, will_retry_until, &dsn, &dlen);
	free(orig);
	if (err != MOX_OK)
		return err;
	const char *rcpt = m->sender;
	queue_add_req req = {
	    .sender_account = "",
	    .sender = "",
	    .recipients = &rcpt,
	    .nrecipients = 1,
	    .has8bit = true, /* the diagnostic may carry 8-bit text */
	    .smtputf8 = m->smtputf8,
	    .is_dsn = true,
	    .data = (const uint8_t *)dsn,
	    .data_len = dlen,
	};
	/* The DSN has only ASCII unless the original's headers had 8-bit. */
	req.has8bit = false;
	for (size_t i = 0; i < dlen && !req.has8bit; i++)
		req.has8bit = (unsigned char)dsn[i] >= 0x80;
	err = queue_store_add(qs, &req, queue_now(s), NULL, errbuf, errlen);
	free(dsn);
	return err;
}
