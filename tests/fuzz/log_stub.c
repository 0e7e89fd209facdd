/* log_stub.c - log.h for the fuzz targets: every line is formatted, then dropped
 *
 * A fuzz input makes hooks.c and config.c log on nearly every run; writing those lines
 * would slow the fuzzer down a hundredfold and bury its own output. Formatting them
 * still runs each format string against its arguments, so a bad argument is caught. */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static int stub_level;

/* log_init - remember the verbosity, write nothing */
void log_init(int to_stderr, int verbosity)
{
	(void)to_stderr;
	stub_level = verbosity;
}

/* log_verbosity - the verbosity given to log_init */
int log_verbosity(void)
{
	return stub_level;
}

/* log_msg - format the line as log.c does, then drop it */
void log_msg(int priority, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	(void)priority;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
}
