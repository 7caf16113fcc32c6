/* mox queue list|dump|drop|kick|hold|release: the queue commands of mox.
 *
 * They work directly on <data>/queue/index.db; SQLite's locking (WAL, busy
 * time-out) makes that safe while a server runs. mox runs them over the
 * ctl socket of the running server instead; until that exists (issue 11),
 * a kick reaches a running server when its scheduler next looks at the
 * table (queue_run.c: at most IDLE_WAKE_MS later) instead of at once.
 *
 * The data directory: -datadir DIR, else $MOX_DATADIR, else "data" (mox's
 * default, relative to the config directory). */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void
usage(void)
{
	fprintf(
	    stderr,
	    "usage: mox queue list [-datadir DIR]\n"
	    "       mox queue dump [-datadir DIR] id\n"
	    "       mox queue drop [-datadir DIR] [-id id] [-todomain domain] "
	    "[-recipient address]\n"
	    "       mox queue kick [-datadir DIR] [-id id] [-todomain domain] "
	    "[-recipient address]"
	    " [-transport name]\n"
	    "       mox queue hold|release [-datadir DIR] [-id id] [-todomain domain]"
	    " [-recipient address]\n");
}

static void
fmt_time(int64_t ms, char *out, size_t outlen)
{
	if (ms == 0) {
		snprintf(out, outlen, "-");
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int64_t
now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static bool
parse_id(const char *s, int64_t *out)
{
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || v <= 0)
		return false;
	*out = v;
	return true;
}

int
queue_cli_main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	const char *cmd = argv[1];
	const char *datadir = getenv("MOX_DATADIR");
	if (datadir == NULL || datadir[0] == '\0')
		datadir = "data";
	queue_filter f = {0};
	const char *transport = NULL, *dump_id = NULL;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		bool has = i + 1 < argc;
		if (strcmp(a, "-datadir") == 0 && has) {
			datadir = argv[++i];
		} else if (strcmp(a, "-id") == 0 && has) {
			if (!parse_id(argv[++i], &f.id)) {
				fprintf(stderr, "mox queue: bad id %s\n", argv[i]);
				return 2;
			}
		} else if (strcmp(a, "-todomain") == 0 && has) {
			f.to_domain = argv[++i];
		} else if (strcmp(a, "-recipient") == 0 && has) {
			f.recipient = argv[++i];
		} else if (strcmp(a, "-transport") == 0 && has &&
		           strcmp(cmd, "kick") == 0) {
			transport = argv[++i];
		} else if (a[0] != '-' && strcmp(cmd, "dump") == 0 && dump_id == NULL) {
			dump_id = a;
		} else {
			usage();
			return 2;
		}
	}
	bool known = strcmp(cmd, "list") == 0 || strcmp(cmd, "dump") == 0 ||
	             strcmp(cmd, "drop") == 0 || strcmp(cmd, "kick") == 0 ||
	             strcmp(cmd, "hold") == 0 || strcmp(cmd, "release") == 0;
	if (!known || (strcmp(cmd, "dump") == 0 && dump_id == NULL)) {
		usage();
		return 2;
	}
	char err[512] = "";
	char dbpath[4096];
	struct stat sb;
	snprintf(dbpath, sizeof(dbpath), "%s/queue/index.db", datadir);
	if (stat(dbpath, &sb) != 0) {
		/* Do not make a queue where a mistyped path points. */
		fprintf(stderr, "mox queue: no queue database at %s\n", dbpath);
		return 1;
	}
	queue_store *qs = NULL;
	if (queue_store_open(datadir, &qs, err, sizeof(err)) != MOX_OK) {
		fprintf(stderr, "mox queue: %s\n", err);
		return 1;
	}
	int rc = 0;
	size_t n = 0;
	if (strcmp(cmd, "list") == 0) {
		queue_msg *v = NULL;
		if (queue_store_list(qs, &f, &v, &n, err, sizeof(err)) != MOX_OK) {
			rc = 1;
		} else {
			for (size_t i = 0; i < n; i++) {
				char next[32], last[32];
				fmt_time(v[i].next_attempt, next, sizeof(next));
				fmt_time(v[i].last_attempt, last, sizeof(last));
				printf("%lld %s -> %s, size %lld, attempts %u, next "
				       "%s, last %s%s%s%s\n",
				       (long long)v[i].id,
				       v[i].sender[0] != '\0' ? v[i].sender : "<>",
				       v[i].recipient, (long long)v[i].size,
				       v[i].attempts, next, last,
				       v[i].hold ? ", held" : "",
				       v[i].transport[0] != '\0' ? ", transport " : "",
				       v[i].transport);
				if (v[i].last_error[0] != '\0')
					printf("\tlast error: %s\n", v[i].last_error);
			}
			if (n == 0)
				printf("(empty)\n");
			queue_msgs_free(v, n);
		}
	} else if (strcmp(cmd, "dump") == 0) {
		int64_t id;
		queue_msg m;
		uint8_t *data = NULL;
		size_t len = 0;
		if (!parse_id(dump_id, &id)) {
			snprintf(err, sizeof(err), "bad id %s", dump_id);
			rc = 1;
		} else if (queue_store_get(qs, id, &m, err, sizeof(err)) != MOX_OK) {
			rc = 1;
		} else {
			if (queue_store_read_message(qs, &m, &data, &len, err,
			                             sizeof(err)) != MOX_OK)
				rc = 1;
			else if (fwrite(data, 1, len, stdout) != len)
				rc = 1;
			free(data);
			queue_msg_clear(&m);
		}
	} else if (strcmp(cmd, "drop") == 0) {
		if (queue_store_drop(qs, &f, &n, err, sizeof(err)) != MOX_OK)
			rc = 1;
		else
			printf("%zu message(s) removed\n", n);
	} else if (strcmp(cmd, "kick") == 0) {
		if (queue_store_kick(qs, &f, transport, now_ms(), &n, err,
		                     sizeof(err)) != MOX_OK)
			rc = 1;
		else
			printf("%zu message(s) marked for immediate delivery\n", n);
	} else {
		bool hold = strcmp(cmd, "hold") == 0;
		if (queue_store_hold(qs, &f, hold, &n, err, sizeof(err)) != MOX_OK)
			rc = 1;
		else
			printf("%zu message(s) %s\n", n, hold ? "held" : "released");
	}
	if (rc != 0)
		fprintf(stderr, "mox queue %s: %s\n", cmd, err);
	queue_store_close(qs);
	return rc;
}
