/* commands.c -- every command of the mox binary, with its usage and help
 * text: one table for "mox help", the usage list and main.c's dispatch.
 * Entries for parts that were not built (no libuv, no libmoxdkim, ...)
 * are left out, so "mox help" lists only what this binary can do. The
 * texts are ours, modelled on what mox's "mox help <command>" explains. */
#include "commands.h"

#include <string.h>

#define B MOX_CMD_BUILTIN
#define T MOX_CMD_TOOL

static const mox_command commands[] = {
#ifdef MOX_HAVE_QUICKSTART
    {"quickstart", "[-dir dir] [-hostname host] [-ip ip]... user@domain [user|uid]",
     "write a config, DKIM keys and an account for a new server",
     "Quickstart writes mox.conf and domains.conf for a new mail server in the\n"
     "directory (default: the current directory), generates DKIM keys (ed25519\n"
     "and RSA) for the domain, creates the account for the address with a\n"
     "generated password (printed once), and prints the DNS records to create\n"
     "and a systemd unit. The optional last argument is the system user (or\n"
     "uid) the server runs as after binding its ports; -hostname sets the mail\n"
     "host's name (default: mail.<domain>), -ip the addresses to listen on.\n",
     B, NULL},
#endif
#ifdef MOX_HAVE_SERVE
    {"serve", "", "run the mail server of mox.conf",
     "Serve starts the mail server configured in mox.conf (global flag -config\n"
     "or $MOXCONF, default config/mox.conf) and domains.conf next to it. Run as\n"
     "root it binds the listeners' ports first, then drops to the configured\n"
     "user. It creates a ctl socket in the data directory through which the\n"
     "admin commands (stop, loglevels, config account add, ...) talk to it.\n"
     "domains.conf is reloaded when it changes, without dropping connections.\n",
     B, NULL},
    {"stop", "", "stop the running server gracefully",
     "Stop asks the running server, through its ctl socket, to shut down. New\n"
     "connections are told to come back later; existing connections get a few\n"
     "seconds to finish. The command returns when the server has stopped.\n",
     B, NULL},
    {"loglevels", "[level [pkg]]", "print or set the running server's log levels",
     "Without arguments, loglevels prints the log levels of the running server:\n"
     "the default level and the level of each package that has its own. With a\n"
     "level (error, info, debug, trace, traceauth, tracedata), it sets the\n"
     "default, or the level of the named package. The change is not written to\n"
     "mox.conf: it lasts until the server restarts.\n",
     B, NULL},
    {"setaccountpassword", "[-datadir dir] [-create] account",
     "set an account's password (read from stdin)",
     "Setaccountpassword reads a new password for the account from standard\n"
     "input and sets it. When a server runs, the change goes through its ctl\n"
     "socket and takes effect at once; otherwise the account's database in\n"
     "the data directory is changed directly. The password is stored as\n"
     "derived keys for SCRAM and a hash for PLAIN authentication, never in\n"
     "clear text.\n",
     B, NULL},
    {"config account add", "account address", "add an account to the running server",
     "Add an account with a first address (its destination) to domains.conf of\n"
     "the running server. The address's domain must be configured. The file is\n"
     "rewritten atomically, keeping its comments, and the change takes effect\n"
     "without a restart. Set a password with setaccountpassword.\n",
     B, NULL},
    {"config account rm", "account", "remove an account from the running server",
     "Remove an account and all its addresses from domains.conf of the running\n"
     "server. The account's messages stay in the data directory.\n",
     B, NULL},
    {"config address add", "address account", "add an address to an account",
     "Add an address (destination) to an existing account of the running\n"
     "server. An address \"@domain\" is the catchall address of the domain.\n",
     B, NULL},
    {"config address rm", "address", "remove an address from its account",
     "Remove an address from the account that has it, on the running server.\n"
     "An account's last address cannot be removed: remove the account.\n",
     B, NULL},
    {"config domain add", "domain account [localpart]",
     "add a domain to the running server",
     "Add a domain to the running server, with new DKIM keys, and an address\n"
     "(localpart, default postmaster) for the account, which must exist. Print\n"
     "the DNS records afterwards with \"mox config dnsrecords domain\".\n",
     B, NULL},
    {"config domain rm", "domain", "remove a domain from the running server",
     "Remove a domain from the running server. Addresses of accounts in the\n"
     "domain must be removed first.\n",
     B, NULL},
#endif
#ifdef MOX_HAVE_QUEUE
    {"queue list", "[-datadir dir]", "list the messages in the outgoing queue",
     "List the messages in the outgoing delivery queue: id, recipient, attempts,\n"
     "next attempt, last error, and whether delivery is on hold.\n",
     B, NULL},
    {"queue dump", "id", "print a queued message",
     "Print the message with the id from the outgoing queue, as it will be\n"
     "delivered.\n",
     B, NULL},
    {"queue drop", "[-id id] [-todomain domain] [-recipient address]",
     "remove messages from the queue",
     "Remove the messages that match the filters from the queue, without\n"
     "delivering them and without sending delivery status notifications.\n",
     B, NULL},
    {"queue kick", "[-id id] [-todomain domain] [-recipient address] [-transport name]",
     "retry delivery now",
     "Schedule the messages that match the filters for immediate delivery,\n"
     "optionally through another transport. Through the running server when\n"
     "one runs, so its queue starts delivering at once.\n",
     B, NULL},
    {"queue hold", "[-id id] [-todomain domain] [-recipient address]",
     "hold messages in the queue",
     "Stop delivery attempts for the messages that match the filters, until\n"
     "they are released.\n",
     B, NULL},
    {"queue release", "[-id id] [-todomain domain] [-recipient address]",
     "release held messages",
     "Release held messages that match the filters; they are delivered at\n"
     "their next scheduled attempt.\n",
     B, NULL},
#endif
#ifdef MOX_HAVE_SENDMAIL
    {"sendmail",
     "[-t] [-i] [-f from] [-F name] [ignoredflags] [recipient ...] <message",
     "submit a message to a mail server, as /usr/sbin/sendmail",
     "Sendmail is a drop-in replacement for /usr/sbin/sendmail, for cron and\n"
     "other programs that send mail. It reads the message from stdin, adds\n"
     "From, Date and Message-ID when missing, and submits it over SMTP with\n"
     "authentication to the server in /etc/moxsubmit.conf ($MOXSUBMITCONF):\n"
     "Host, Port, TLS or STARTTLS, Username, Password, From, LocalHostname,\n"
     "DefaultDestination (for recipients without @), RequireTLS, and ours:\n"
     "TLSInsecureSkipVerify and CAFile. -t takes the recipients from To, Cc and\n"
     "Bcc and removes Bcc; -i/-oi: a line with only a dot does not end the\n"
     "message. Exit codes are sendmail's: 75 try again, 69 refused, 64 usage.\n"
     "A message that could not be submitted is kept in ~/moxsubmit.failures.\n",
     B, NULL},
#endif
    {"config test", "", "check mox.conf and domains.conf",
     "Parse and check mox.conf (global flag -config, $MOXCONF, or\n"
     "config/mox.conf) and domains.conf next to it, and print every problem\n"
     "found with file and line. Exits with status 1 when there are errors.\n",
     B, NULL},
    {"config describe-static", "", "annotated example mox.conf",
     "Print an example mox.conf with every field the file may have and a\n"
     "comment explaining each, generated from the definitions the parser uses.\n",
     B, NULL},
    {"config describe-domains", "", "annotated example domains.conf",
     "Print an example domains.conf with every field the file may have and a\n"
     "comment explaining each, generated from the definitions the parser uses.\n",
     B, NULL},
#ifdef MOX_HAVE_DNSCHECK
    {"config dnsrecords", "domain", "the DNS records a domain needs, as a zone file",
     "Print the DNS records the configured domain needs, as a zone file: the\n"
     "mail host's addresses, MX, SPF, DKIM public keys, DMARC, MTA-STS,\n"
     "TLSRPT, and autoconfiguration CNAME and SRV records for mail clients.\n",
     B, NULL},
    {"config dnscheck", "domain", "check the domain's DNS records",
     "Look up the DNS records that \"mox config dnsrecords\" prints for the\n"
     "domain (A/AAAA, MX, SPF, DKIM, DMARC, MTA-STS, TLSRPT, autoconfig), through\n"
     "the resolver ($MOX_RESOLVER or /etc/resolv.conf), and print for each\n"
     "whether DNS has it as it should be. SRV records are listed but not\n"
     "checked. Exits with status 1 when a record is missing or different.\n",
     B, NULL},
#endif
    {"config printservice", "", "print a systemd unit for the server",
     "Print a systemd service file that runs \"mox serve\" with the current\n"
     "directory as working directory and this binary, for\n"
     "/etc/systemd/system/mox.service. \"mox quickstart\" prints the same.\n",
     B, NULL},
    {"clientconfig", "domain", "settings for mail clients of a domain",
     "Print the settings a mail client needs for addresses in the domain: for\n"
     "each listener with IMAP or submission, the protocol, host name, port,\n"
     "and whether TLS is used from the start or after STARTTLS. The user name\n"
     "is the full email address.\n",
     B, NULL},
    {"example", "[name]", "list or print example configuration files",
     "Without a name, list the examples. With a name, print that example:\n"
     "annotated mox.conf and domains.conf files, and small examples of\n"
     "configurations for common setups to copy from.\n",
     B, NULL},
    {"version", "", "print the version of mox and its libraries",
     "Print the version of mox-c and of each protocol library linked in.\n", B, NULL},
    {"help", "[command]", "list the commands, or explain one",
     "Without arguments, list all commands. With a command name (several words\n"
     "for commands such as \"config test\"), print its usage and explanation.\n",
     B, NULL},
#ifdef MOX_HAVE_LOCALSERVE
    {"localserve", "[-dir dir]", "a local mail server for testing",
     "Run a mail server for local testing of applications that send email: it\n"
     "accepts messages on SMTP port 1025, submission 1587 and submissions 1465\n"
     "on localhost, for any address, with any password, and stores them in an\n"
     "account in the directory (default: $HOME/.config/mox-localserve). Nothing\n"
     "is delivered to the internet.\n",
     B, NULL},
#endif
    {"dns lookup", "type name", "DNS lookup through the resolver",
     "Look up records of the type (A, AAAA, MX, TXT, CNAME, PTR, NS, TLSA, SOA)\n"
     "for the name, through $MOX_RESOLVER or /etc/resolv.conf, and print the\n"
     "answer, including whether it was DNSSEC-validated.\n",
     T, "dns"},
    {"dns orgdomain", "name", "organizational domain of a name",
     "Print the organizational domain of the name, by the public suffix list\n"
     "(RFC 7489 section 3.2), as DMARC uses it.\n",
     T, "dns"},
    {"dns idna", "name", "A-label and U-label forms of a name",
     "Print the ASCII (A-label, punycode) and Unicode (U-label) forms of the\n"
     "internationalized domain name.\n",
     T, "dns"},
    {"spf check", "domain ip", "evaluate the SPF policy of a domain for an IP",
     "Evaluate the SPF record of the domain for a message from the IP address\n"
     "(RFC 7208 section 4), and print the result (pass, fail, softfail, ...).\n",
     T, "spf"},
    {"spf lookup", "domain", "print the SPF record of a domain",
     "Look up the SPF record of the domain (the TXT record starting with\n"
     "v=spf1, RFC 7208 section 4.5) and print it.\n",
     T, "spf"},
    {"spf parse", "txtrecord", "parse an SPF record",
     "Parse the SPF record given as argument; prints nothing if it is valid,\n"
     "else the error.\n",
     T, "spf"},
    {"dkim genrsa", "", "generate an RSA DKIM private key",
     "Generate a 2048-bit RSA private key for DKIM signing and print it in PEM\n"
     "form.\n",
     T, "dkim"},
    {"dkim gened25519", "", "generate an ed25519 DKIM private key",
     "Generate an ed25519 private key for DKIM signing (RFC 8463) and print it\n"
     "in PEM form.\n",
     T, "dkim"},
    {"dkim txt", "keyfile", "the DNS TXT record for a DKIM key",
     "Print the DNS TXT record with the public part of the private key in\n"
     "keyfile, to publish at <selector>._domainkey.<domain>.\n",
     T, "dkim"},
    {"dkim lookup", "selector domain", "look up a DKIM key record",
     "Look up and parse the DKIM public key record of the selector and domain.\n", T,
     "dkim"},
    {"dkim verify", "message", "verify the DKIM signatures of a message",
     "Verify each DKIM-Signature header of the message file, looking up the\n"
     "keys in DNS, and print the result of each.\n",
     T, "dkim"},
    {"dkim sign", "[options] message", "sign a message with DKIM",
     "Add a DKIM-Signature header to the message, with the given key, domain\n"
     "and selector, and print the signed message.\n",
     T, "dkim"},
    {"dmarc lookup", "domain", "the DMARC record that applies to a domain",
     "Look up the DMARC record for the domain, falling back to the\n"
     "organizational domain (RFC 7489 section 6.6.3), and print it.\n",
     T, "dmarc"},
    {"dmarc verify", "remoteip mailfrom helo <message",
     "the DMARC result of a message as a receiver sees it",
     "Do the SPF and DKIM checks a receiving server does for the message from\n"
     "remoteip with the SMTP MAIL FROM and HELO, and evaluate DMARC.\n",
     T, "dmarc"},
    {"dmarc parsereportmsg", "file ...", "aggregate reports in messages, as JSON",
     "Find DMARC aggregate reports (RFC 7489 section 7.2) in the message files,\n"
     "decompress and parse them, and print them as JSON.\n",
     T, "dmarc"},
    {"dnsbl check", "zone ip", "is an IP listed in a DNS blocklist?",
     "Check whether the IP address is listed in the DNS blocklist zone (RFC\n"
     "5782), and print the reason text if it is.\n",
     T, "dnsbl"},
    {"dnsbl checkhealth", "zone", "RFC 5782 health check of a blocklist",
     "Check that the DNS blocklist zone lists the test address 127.0.0.2 and\n"
     "not 127.0.0.1 (RFC 5782 section 5).\n",
     T, "dnsbl"},
    {"mtasts lookup", "domain", "the MTA-STS policy of a domain",
     "Look up the MTA-STS DNS record of the domain and fetch its policy over\n"
     "HTTPS (RFC 8461), and print both.\n",
     T, "mtasts"},
    {"tlsrpt lookup", "domain", "the TLSRPT record of a domain",
     "Look up and print the SMTP TLS reporting record of the domain (RFC\n"
     "8460 section 3).\n",
     T, "tlsrpt"},
    {"tlsrpt parsereportmsg", "file ...", "TLS reports in messages, as JSON",
     "Find TLS reports (RFC 8460) in the message files, decompress and parse\n"
     "them, and print them as JSON.\n",
     T, "tlsrpt"},
    {"message parse", "[-json] file", "the MIME part tree of a message",
     "Parse the message file and print its MIME structure, or with -json the\n"
     "whole parse as JSON.\n",
     T, "message"},
    {"message part", "file section", "a part's decoded content",
     "Print the decoded content of the part of the message named by an IMAP\n"
     "section number such as 1.2.\n",
     T, "message"},
    {"import maildir", "[-datadir dir] [-create] account mailbox maildir",
     "import a maildir into an account",
     "Import the messages of the maildir into the mailbox of the account\n"
     "(-create: create the mailbox if needed), keeping flags from the file names.\n",
     T, "store"},
    {"import mbox", "[-datadir dir] [-create] account mailbox mboxfile",
     "import an mbox file into an account",
     "Import the messages of the mbox file into the mailbox of the account.\n", T,
     "store"},
    {"export maildir", "dstdir accountdir [mailbox]", "export an account as maildirs",
     "Write the account's mailboxes (or only the one named) as maildir\n"
     "directories under dstdir, flags in the file names.\n",
     T, "store"},
    {"export mbox", "dstdir accountdir [mailbox]", "export an account as mbox files",
     "Write the account's mailboxes (or only the one named) as mbox files\n"
     "under dstdir, one file per\n"
     "mailbox, with From_ lines quoted as mboxrd does.\n",
     T, "store"},
    {"backup", "[-datadir dir] destdir", "consistent backup of the accounts",
     "Make a consistent copy of the data directory's accounts, message files\n"
     "hard-linked where possible, while the server may keep running.\n",
     T, "store"},
    {"verifydata", "[-fix] datadir", "check the accounts' data",
     "Check each account of the data directory: database rows, message files,\n"
     "and UIDs; with -fix, repair what can be repaired.\n",
     T, "store"},
};

#undef B
#undef T

const mox_command *
mox_commands(size_t *n_out)
{
	*n_out = sizeof(commands) / sizeof(commands[0]);
	return commands;
}

/* Does name, a space-separated list of words, equal the first words of
 * argv? Returns the number of words matched, 0 if not. */
static int
match(const char *name, int argc, char **argv)
{
	int i = 0;
	const char *p = name;
	while (*p != '\0') {
		size_t len = strcspn(p, " ");
		if (i >= argc || strlen(argv[i]) != len ||
		    strncmp(argv[i], p, len) != 0)
			return 0;
		i++;
		p += len;
		if (*p == ' ')
			p++;
	}
	return i;
}

const mox_command *
mox_command_find(int argc, char **argv)
{
	const mox_command *best = NULL;
	int bestn = 0;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		int n = match(commands[i].name, argc, argv);
		if (n > bestn) {
			bestn = n;
			best = &commands[i];
		}
	}
	return best;
}

bool
mox_command_first_word(const char *word)
{
	size_t len = strlen(word);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const char *n = commands[i].name;
		if (strncmp(n, word, len) == 0 && (n[len] == '\0' || n[len] == ' '))
			return true;
	}
	return false;
}

void
mox_commands_usage(FILE *f)
{
	fprintf(f, "usage: mox [-config mox.conf] <command> [args]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const mox_command *c = &commands[i];
		char line[200];
		snprintf(line, sizeof(line), "%s%s%s", c->name, c->args[0] ? " " : "",
		         c->args);
		if (strlen(line) < 32)
			fprintf(f, "  %-32s %s\n", line, c->brief);
		else
			fprintf(f, "  %s\n  %-32s %s\n", line, "", c->brief);
	}
	fprintf(f, "\n\"mox help <command>\" explains a command.\n");
}
