/* log.c - one line per event, to syslog or to stderr (see include/log.h) */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"

static int log_to_stderr;
static int log_level;

/* log_init - choose syslog or stderr, and how talkative to be */
void log_init(int to_stderr, int verbosity)
{
	log_to_stderr = to_stderr;
	log_level = verbosity;
	if (!to_stderr)
		openlog("mtahooks-milter", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* log_verbosity - the -v count */
int log_verbosity(void)
{
	return log_level;
}

/* priority_name - the word printed before a line on stderr */
static const char *priority_name(int priority)
{
	switch (priority) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* log_msg - log one line at a syslog priority */
void log_msg(int priority, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if ((priority == LOG_INFO && log_level < 1) || (priority == LOG_DEBUG && log_level < 2))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* A value from the MTA or a hook must not be able to start a new log line. */
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (log_to_stderr)
		fprintf(stderr, "mtahooks-milter[%ld]: %s: %s\n", (long)getpid(),
		        priority_name(priority), line);
	else
		syslog(priority, "%s", line);
}
