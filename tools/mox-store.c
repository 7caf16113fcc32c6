/* mox-store: the store's maintenance commands, with mox's names and
 * arguments. Run as "mox store <command> ...", or directly as "mox
 * <command> ..." once the front door maps these names to this tool:
 *
 *   mox import maildir [-datadir DIR] [-create] ACCOUNT MAILBOX MAILDIR
 *   mox import mbox [-datadir DIR] [-create] ACCOUNT MAILBOX MBOXFILE
 *   mox export maildir DSTDIR ACCOUNTDIR [MAILBOX]
 *   mox export mbox DSTDIR ACCOUNTDIR [MAILBOX]
 *   mox backup [-datadir DIR] DESTDIR
 *   mox verifydata [-fix] DATADIR
 *   mox setaccountpassword [-datadir DIR] [-create] ACCOUNT   (password on stdin)
 *
 * -create creates the account directory and database if missing (mox
 * creates accounts from its configuration; without one, this is how).
 * The data directory is -datadir, else $MOX_DATADIR, else "data" (mox's
 * default, next to the configuration). Accounts must not be open in a
 * running server: these commands take the account's lock (a running mox
 * does them over its ctl socket instead, with the same library calls).
 * Links only libmoxstore (and core, message). */
#include <mox/store.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: mox import maildir [-datadir DIR] [-create] ACCOUNT MAILBOX "
	    "MAILDIR\n"
	    "       mox import mbox [-datadir DIR] [-create] ACCOUNT MAILBOX MBOXFILE\n"
	    "       mox export maildir DSTDIR ACCOUNTDIR [MAILBOX]\n"
	    "       mox export mbox DSTDIR ACCOUNTDIR [MAILBOX]\n"
	    "       mox backup [-datadir DIR] DESTDIR\n"
	    "       mox verifydata [-fix] DATADIR\n"
	    "       mox setaccountpassword [-datadir DIR] [-create] ACCOUNT  (password "
	    "on stdin)\n");
}

static void
report(void *arg, int level, const char *msg)
{
	(void)arg;
	FILE *f = level == 0 ? stdout : stderr;
	fprintf(f, "%s\n", msg);
	fflush(f);
}

static const char *
datadir(int *argc, char ***argv)
{
	const char *d = getenv("MOX_DATADIR");
	if (*argc >= 2 && strcmp((*argv)[0], "-datadir") == 0) {
		d = (*argv)[1];
		*argc -= 2;
		*argv += 2;
	}
	return d != NULL && d[0] != '\0' ? d : "data";
}

static bool
create_flag(int *argc, char ***argv)
{
	if (*argc >= 1 && strcmp((*argv)[0], "-create") == 0) {
		(*argc)--;
		(*argv)++;
		return true;
	}
	return false;
}

static mox_store *
open_account(const char *dir, bool create)
{
	mox_store *st = NULL;
	mox_errinfo info;
	mox_store_opts o = {.size = sizeof(o), .create = create};
	mox_err err = mox_store_open(&st, dir, &o, &info);
	if (err != MOX_OK) {
		fprintf(stderr, "mox: opening account %s: %s\n", dir, info.msg);
		return NULL;
	}
	return st;
}

static int
parse_format(const char *s, mox_store_format *f)
{
	if (strcmp(s, "maildir") == 0)
		*f = MOX_STORE_MAILDIR;
	else if (strcmp(s, "mbox") == 0)
		*f = MOX_STORE_MBOX;
	else
		return -1;
	return 0;
}

static int
cmd_import(int argc, char **argv)
{
	mox_store_format f;
	if (argc < 1 || parse_format(argv[0], &f) != 0) {
		usage(stderr);
		return 2;
	}
	argc--;
	argv++;
	const char *data = datadir(&argc, &argv);
	bool create = create_flag(&argc, &argv);
	if (argc != 3) {
		usage(stderr);
		return 2;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/accounts/%s", data, argv[0]);
	mox_store *st = open_account(dir, create);
	if (st == NULL)
		return 1;
	mox_store_import_opts o = {.size = sizeof(o), .report = report};
	mox_store_import_result r;
	mox_err err = mox_store_import(st, f, argv[1], argv[2], &o, &r);
	mox_store_close(st);
	if (err != MOX_OK) {
		fprintf(stderr, "mox: import: %s (%zu messages imported)\n",
		        mox_strerror(err), r.imported);
		return 1;
	}
	return r.skipped > 0 ? 1 : 0;
}

static int
cmd_export(int argc, char **argv)
{
	mox_store_format f;
	if (argc < 3 || argc > 4 || parse_format(argv[0], &f) != 0) {
		usage(stderr);
		return 2;
	}
	mox_store *st = open_account(argv[2], false);
	if (st == NULL)
		return 1;
	mox_store_export_opts o = {.size = sizeof(o), .report = report};
	mox_store_export_result r;
	mox_err err =
	    mox_store_export(st, f, argv[1], argc == 4 ? argv[3] : NULL, &o, &r);
	mox_store_close(st);
	if (err != MOX_OK) {
		fprintf(stderr, "mox: export: %s\n", mox_strerror(err));
		return 1;
	}
	printf("exported %zu messages from %zu mailboxes%s\n", r.messages, r.mailboxes,
	       r.errors > 0 ? ", with errors (see errors.txt)" : "");
	return r.errors > 0 ? 1 : 0;
}

static int
cmd_backup(int argc, char **argv)
{
	const char *data = datadir(&argc, &argv);
	if (argc != 1) {
		usage(stderr);
		return 2;
	}
	mox_store_backup_opts o = {.size = sizeof(o), .report = report};
	mox_err err = mox_store_backup(data, argv[0], &o);
	if (err != MOX_OK) {
		fprintf(stderr, "mox: backup: %s\n", mox_strerror(err));
		return 1;
	}
	printf("backup of %s/accounts in %s done; check it with: mox verifydata %s\n",
	       data, argv[0], argv[0]);
	return 0;
}

static int
cmd_verifydata(int argc, char **argv)
{
	bool fix = false;
	if (argc >= 1 && strcmp(argv[0], "-fix") == 0) {
		fix = true;
		argc--;
		argv++;
	}
	if (argc != 1) {
		usage(stderr);
		return 2;
	}
	mox_store_verify_opts o = {.size = sizeof(o), .fix = fix, .report = report};
	mox_store_verify_result r;
	mox_err err = mox_store_verify(argv[0], &o, &r);
	if (err != MOX_OK) {
		fprintf(stderr, "mox: verifydata: %s\n", mox_strerror(err));
		return 1;
	}
	if (r.errors > 0 || (!fix && r.unknown_files > 0)) {
		fprintf(stderr, "mox: verifydata: problems found\n");
		return 1;
	}
	return 0;
}

static int
cmd_setaccountpassword(int argc, char **argv)
{
	const char *data = datadir(&argc, &argv);
	bool create = create_flag(&argc, &argv);
	if (argc != 1) {
		usage(stderr);
		return 2;
	}
	char pw[1024];
	if (isatty(0))
		fprintf(stderr, "password: ");
	if (fgets(pw, sizeof(pw), stdin) == NULL) {
		fprintf(stderr, "mox: no password\n");
		return 1;
	}
	pw[strcspn(pw, "\r\n")] = '\0';
	if (pw[0] == '\0') {
		fprintf(stderr, "mox: empty password\n");
		return 1;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/accounts/%s", data, argv[0]);
	mox_store *st = open_account(dir, create);
	if (st == NULL)
		return 1;
	mox_err err = mox_store_password_set(st, pw);
	mox_mem_wipe(pw, sizeof(pw));
	mox_store_close(st);
	if (err != MOX_OK) {
		fprintf(stderr, "mox: setting password: %s\n", mox_strerror(err));
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	argc -= 2;
	argv += 2;
	if (strcmp(cmd, "import") == 0)
		return cmd_import(argc, argv);
	if (strcmp(cmd, "export") == 0)
		return cmd_export(argc, argv);
	if (strcmp(cmd, "backup") == 0)
		return cmd_backup(argc, argv);
	if (strcmp(cmd, "verifydata") == 0)
		return cmd_verifydata(argc, argv);
	if (strcmp(cmd, "setaccountpassword") == 0)
		return cmd_setaccountpassword(argc, argv);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "mox: unknown store command \"%s\"\n", cmd);
	usage(stderr);
	return 2;
}
