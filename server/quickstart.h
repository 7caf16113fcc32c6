/* quickstart.h -- "mox quickstart" (quickstart.c). */
#ifndef MOX_SERVER_QUICKSTART_H
#define MOX_SERVER_QUICKSTART_H

/* argv[0] is "quickstart". Returns the exit status. */
int mox_quickstart_main(int argc, char **argv);

#endif
