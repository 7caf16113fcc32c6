/* A program that knows nothing of the mox-c source tree: compiled against
 * the INSTALLED headers and libraries, with nothing but what
 * `pkg-config --cflags --libs libmoxstore` (or find_package(mox)) gives.
 * It creates an account in a temporary directory, delivers a message,
 * reads it back with its cached structure, checks a password and verifies
 * the data directory, and exits non-zero on any surprise. */
#define _DEFAULT_SOURCE
#include <mox/store.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(void)
{
	if (mox_store_version() != MOX_STORE_VERSION_HEX ||
	    mox_core_version() != MOX_CORE_VERSION_HEX) {
		fprintf(stderr, "header/library version skew\n");
		return 1;
	}
	char dir[] = "/tmp/consumer-store-XXXXXX";
	if (mkdtemp(dir) == NULL)
		return 1;
	char acct[256];
	snprintf(acct, sizeof(acct), "%s/accounts/mjl", dir);
	mox_store_opts o = {.size = sizeof(o), .create = true, .bcrypt_cost = 4};
	mox_store *st = NULL;
	mox_errinfo info;
	if (mox_store_open(&st, acct, &o, &info) != MOX_OK) {
		fprintf(stderr, "open: %s\n", info.msg);
		return 1;
	}
	static const char msg[] =
	    "From: mjl@mox.example\r\nSubject: hi\r\n\r\nhello\r\n";
	mox_store_deliver_opts d = {.size = sizeof(d)};
	mox_store_msginfo mi;
	if (mox_store_deliver_mem(st, "Inbox", msg, strlen(msg), &d, &mi, &info) !=
	        MOX_OK ||
	    mi.uid != 1) {
		fprintf(stderr, "deliver: %s\n", info.msg);
		return 1;
	}
	mox_store_tx *tx = NULL;
	mox_store_part *part = NULL;
	if (mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx) != MOX_OK ||
	    mox_store_tx_part(tx, mi.id, &part) != MOX_OK ||
	    strcmp(part->envelope->subject, "hi") != 0 ||
	    part->end_offset != strlen(msg)) {
		fprintf(stderr, "reading the part tree failed\n");
		return 1;
	}
	mox_store_part_free(part);
	mox_store_tx_rollback(tx);
	bool ok = false;
	if (mox_store_password_set(st, "moxmoxmox") != MOX_OK ||
	    mox_store_password_check(st, "moxmoxmox", &ok) != MOX_OK || !ok) {
		fprintf(stderr, "password failed\n");
		return 1;
	}
	mox_store_close(st);
	mox_store_verify_result r;
	if (mox_store_verify(dir, NULL, &r) != MOX_OK || r.errors != 0 ||
	    r.messages != 1) {
		fprintf(stderr, "verify failed\n");
		return 1;
	}
	printf("consumer: delivered uid %u, verified %zu message(s) (%s)\n", mi.uid,
	       r.messages, mox_strerror(MOX_OK));
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
