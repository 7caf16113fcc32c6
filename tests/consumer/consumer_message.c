/* Consumer of the installed libmoxmessage (see run.sh). */
#include <mox/message.h>

#include <stdio.h>
#include <string.h>

int
main(void)
{
	const char *msg = "Subject: hi\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
			  "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
			  "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9\r\n--b--\r\n";
	mox_msg *m = NULL;
	if (mox_msg_parse(msg, strlen(msg), NULL, &m, NULL) != MOX_OK || m->nparts != 2)
		return 1;
	const mox_msg_part *p = mox_msg_part_find(m, "1");
	mox_buf out = MOX_BUF_INIT;
	if (p == NULL || mox_msg_part_decode(p, (const uint8_t *)msg, strlen(msg), &out, NULL) != MOX_OK ||
	    strcmp((char *)out.data, "caf\xc3\xa9") != 0)
		return 1;
	printf("consumer: part 1 is %s/%s: %s\n", p->type, p->subtype, (char *)out.data);
	mox_buf_free(&out);
	mox_msg_free(m);
	return 0;
}
