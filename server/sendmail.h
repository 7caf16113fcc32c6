/* mox sendmail: a drop-in /usr/sbin/sendmail that submits to a configured
 * server (server/sendmail.c). */
#ifndef MOX_SERVER_SENDMAIL_H
#define MOX_SERVER_SENDMAIL_H

/* argv[0] is "sendmail". Returns the process exit code (sysexits.h). */
int sendmail_main(int argc, char **argv);

#endif
