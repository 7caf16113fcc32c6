/* commands.h -- the one table of mox's commands (commands.c): the usage
 * text, "mox help [command]" and main.c's dispatch of tool commands all
 * read it, so they cannot drift apart. Also the small commands that live
 * next to the help (help.c, clientconfig.c, dnscheck.c). */
#ifndef MOX_SERVER_COMMANDS_H
#define MOX_SERVER_COMMANDS_H

#include <mox/core.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* How main.c runs a command. */
typedef enum mox_command_kind {
	MOX_CMD_BUILTIN, /* main.c dispatches it itself */
	MOX_CMD_TOOL,    /* run tools/mox-<tool> with the arguments */
} mox_command_kind;

typedef struct mox_command {
	const char *name;  /* "config dnscheck": words after "mox" */
	const char *args;  /* "domain", "" for none */
	const char *brief; /* one line for the list */
	const char *help;  /* paragraphs for "mox help <name>" */
	mox_command_kind kind;
	const char *tool; /* MOX_CMD_TOOL: "dns" for tools/mox-dns */
} mox_command;

/* The table, in the order "mox help" lists it. */
const mox_command *mox_commands(size_t *n_out);
/* The entry whose name is the longest prefix of words (argv[0] is the
 * first word after "mox"); NULL if none matches. */
const mox_command *mox_command_find(int argc, char **argv);
/* Is word the first word of any command? */
bool mox_command_first_word(const char *word);
/* The list of commands, for "mox help" and usage errors. */
void mox_commands_usage(FILE *f);

/* "mox help [command...]": argv[0] is "help". */
int mox_help_main(int argc, char **argv);
/* "mox version": mox-c and every library linked in. */
int mox_version_main(int argc, char **argv);
/* "mox config printservice" (argv[0] "printservice"). */
int mox_printservice_main(int argc, char **argv);
/* "mox example [name]". */
int mox_example_main(int argc, char **argv);
/* "mox clientconfig domain". */
int mox_clientconfig_main(int argc, char **argv);
/* "mox config dnscheck domain" (argv[0] "dnscheck"). */
int mox_dnscheck_main(int argc, char **argv);

/* The systemd unit for a server in workdir, run as exe with config file
 * conf: printed by "mox quickstart" and "mox config printservice". */
mox_err mox_service_unit(mox_buf *out, const char *workdir, const char *exe,
                         const char *conf);

#endif
