/*
 * milter - the libmilter side: callbacks, negotiation, and applying outcomes
 *
 * SYNOPSIS
 *	int milter_open(const char *listen);
 *	int milter_run(void);
 *
 * DESCRIPTION
 *	milter_open registers the filter with libmilter and opens the listening
 *	socket (unix:/local:/inet:/inet6:), before privileges are dropped; a stale
 *	unix socket is removed. milter_run serves connections until SIGTERM or
 *	SIGINT, then waits (at most 30 s) for open sessions to finish.
 *
 *	Each connection takes the configuration snapshot current at that moment
 *	(config_current) and keeps it. At negotiation the MTA is told which events
 *	to skip (SMFIP_NO*) and which need no reply (SMFIP_NR_*), from the stages
 *	the configured hooks use, and which macros to send (smfi_setsymlist).
 *
 *	This is the only file that includes libmilter/mfapi.h.
 *
 * DIAGNOSTICS
 *	Both return 0 on success, -1 with a logged reason otherwise.
 */
#ifndef MTAHOOKS_MILTER_H
#define MTAHOOKS_MILTER_H

/* milter_open - register the filter and open the socket */
int milter_open(const char *listen);
/* milter_run - serve until stopped; wait for open sessions */
int milter_run(void);

#endif
