/*
 * log - one line per event, to syslog or to stderr
 *
 * SYNOPSIS
 *	void log_init(int to_stderr, int verbosity);
 *	void log_msg(int priority, const char *fmt, ...);
 *	int  log_verbosity(void);
 *
 * DESCRIPTION
 *	log_init chooses the destination once, before threads start: syslog
 *	(facility mail, ident "mtahooks-milter", with the pid) or stderr (with -f).
 *	priority is a syslog priority (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
 *	LOG_DEBUG). LOG_INFO is printed when verbosity >= 1, LOG_DEBUG when >= 2;
 *	LOG_NOTICE and above always. Callers format their lines as
 *	"hook=<id> stage=<stage> qid=<queue id> ..." and never pass secrets.
 *	Control characters in the formatted line are replaced by '?', so a value
 *	from the MTA or a hook cannot forge a second log line. Thread-safe.
 */
#ifndef MTAHOOKS_LOG_H
#define MTAHOOKS_LOG_H

#include <syslog.h>

/* log_init - choose syslog or stderr, and how talkative to be */
void log_init(int to_stderr, int verbosity);
/* log_msg - log one line at a syslog priority */
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* log_verbosity - the -v count */
int log_verbosity(void);

#endif
