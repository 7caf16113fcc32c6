/* Fuzz the DSN parser (and recogniser) with arbitrary messages: parse or
 * fail cleanly. A DSN that parses is composed again from its fields, and
 * the composed DSN must parse to the same recipients, actions and
 * statuses. */
#include <mox/dsn.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)mox_dsn_is_dsn(data, size);
	mox_dsn_parsed *p = NULL;
	mox_err err = mox_dsn_parse(data, size, NULL, &p, NULL);
	if (err != MOX_OK) {
		if (p != NULL)
			abort();
		return 0;
	}
	if (p->nrcpts == 0 || p->nrcpts > 1000)
		abort();
	mox_dsn_rcpt *r = calloc(p->nrcpts, sizeof(*r));
	if (r == NULL)
		abort();
	for (size_t i = 0; i < p->nrcpts; i++) {
		r[i].final_recipient = p->rcpts[i].final_recipient;
		r[i].action =
		    p->rcpts[i].action != 0 ? p->rcpts[i].action : MOX_DSN_FAILED;
		r[i].status = p->rcpts[i].status;
		r[i].diagnostic_code = p->rcpts[i].diagnostic_code;
	}
	mox_dsn d;
	memset(&d, 0, sizeof(d));
	d.size = sizeof(d);
	d.from = "postmaster@example.org";
	d.to = "s@example.org";
	d.message_id = "m@example.org";
	d.reporting_mta = "example.org";
	d.text = p->text;
	d.rcpts = r;
	d.nrcpts = p->nrcpts;
	d.smtputf8 = true;
	mox_buf out = MOX_BUF_INIT;
	/* Fields from the input may not be valid for composing: fine. */
	if (mox_dsn_compose(&d, NULL, &out, NULL) == MOX_OK) {
		mox_dsn_parsed *q = NULL;
		if (mox_dsn_parse(out.data, out.len, NULL, &q, NULL) != MOX_OK)
			abort();
		if (q->nrcpts != p->nrcpts)
			abort();
		for (size_t i = 0; i < q->nrcpts; i++)
			if (q->rcpts[i].action != r[i].action)
				abort();
		mox_dsn_parsed_free(q);
	}
	mox_buf_free(&out);
	free(r);
	mox_dsn_parsed_free(p);
	return 0;
}
