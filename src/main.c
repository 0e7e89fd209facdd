/*
 * main.c - command line, configuration, privileges, signals, daemon life
 *
 * DESCRIPTION
 *	The options of DESIGN.md "Command line": load the configuration (or only
 *	check it, -n), open the socket, detach, write the pid file, drop
 *	privileges, then hand over to libmilter (milter.c) until SIGTERM or SIGINT.
 *	With --dry-run it only parses the options, loads the configuration and
 *	hands a message file to dryrun.c: no socket, no signals, logs on stderr.
 *
 * SIGNALS
 *	libmilter's smfi_main starts a thread that calls sigwait() for SIGHUP,
 *	SIGTERM and SIGINT and stops the filter on any of them. For SIGHUP to
 *	reload instead, this file defines sigwait() itself. libmilter is a shared
 *	library that reaches sigwait through its PLT, and the dynamic linker binds
 *	that to the first definition in the process, the executable's (the linker
 *	exports it because libmilter refers to it); a static libmilter binds to it
 *	at link time. Our sigwait waits with sigwaitinfo: a SIGHUP wakes the reload
 *	thread and it waits again, so libmilter only ever gets SIGTERM or SIGINT.
 *
 *	There is no race between two threads waiting for the same signal: main
 *	blocks SIGHUP, SIGTERM and SIGINT before any other thread exists, every
 *	thread inherits that mask, and the only thread that takes them is
 *	libmilter's, through this sigwait. A signal that comes before libmilter
 *	waits stays pending until it does. At start dlsym tells whether the process
 *	really sees our sigwait; if not, a warning says that SIGHUP stops the
 *	daemon. The unit tests do not link this file and keep the C library's.
 *
 *	The reload runs in a thread of its own (reload_main), neither in a signal
 *	handler nor in libmilter's signal thread, so a slow %{file:}% cannot hold
 *	up SIGTERM. It loads the same file again (its path made absolute at start,
 *	since a detached daemon works in /). A good file is swapped in with
 *	config_set_current: sessions already open keep the configuration they
 *	started with, and each new MTA connection negotiates with the new one. A
 *	bad file is refused with one log line per problem and a summary line, and
 *	the configuration in force stays. A changed [milter] listen cannot move the
 *	open socket: a warning says so, and the socket stays.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "build-config.h"
#include "config.h"
#include "dryrun.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"

struct options {
	const char *config_path; /* -c */
	const char *listen;      /* -p, overrides [milter] listen */
	int foreground;          /* -f */
	const char *user;        /* -u USER[:GROUP] */
	const char *pidfile;     /* -P */
	int verbosity;           /* -v, repeatable */
	int check_only;          /* -n */
	int dry_run;             /* --dry-run: play a message file through the hooks */
	struct dryrun_options dry;
	const char **rcpts; /* --rcpt, repeatable (dry.rcpt points here) */
	int dry_only;       /* a dry-run option was given (its name in dry_only_name) */
	const char *dry_only_name;
};

/* Long options; the ones without a short form are for --dry-run. */
enum { OPT_DRY_RUN = 256, OPT_FROM, OPT_RCPT, OPT_CLIENT_IP, OPT_HELO, OPT_STAGE, OPT_JSON };

static const struct option long_options[] = {
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"from", required_argument, NULL, OPT_FROM},
    {"rcpt", required_argument, NULL, OPT_RCPT},
    {"client-ip", required_argument, NULL, OPT_CLIENT_IP},
    {"helo", required_argument, NULL, OPT_HELO},
    {"stage", required_argument, NULL, OPT_STAGE},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out);
static int parse_args(int argc, char **argv, struct options *o);
static int dry_run(const struct options *o);
static int report_errors(const struct config_errors *errs);
static int socket_path(const char *listen, const char **path);
static int drop_privileges(const char *spec, const char *listen);
static int daemonize(void);
static int write_pidfile(const char *path);
static char *absolute_path(const char *path);
static int sigwait_is_ours(void);
static void reload_request(void);
static int reload_start(char *path, const char *listen, int listen_given,
                        const char *metrics_listen);
static void reload_stop(void);
static void *reload_main(void *arg);
static void reload_now(void);
static int same_string(const char *a, const char *b);

/* What the reload thread needs, and how the signal thread wakes it. */
struct reloader {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int requested;    /* a SIGHUP came since the last reload started */
	int stopping;     /* the daemon stops: the thread ends */
	char *path;       /* the configuration file, absolute */
	char *listen;     /* the socket in use (a copy: the first configuration goes away) */
	char *metrics;    /* [metrics] listen in use, NULL: none (a copy, like listen) */
	int listen_given; /* it came from -p, so [milter] listen does not matter */
	pthread_t thread;
};

static struct reloader reloader = {.lock = PTHREAD_MUTEX_INITIALIZER,
                                   .wake = PTHREAD_COND_INITIALIZER};
/* Set while the reload thread runs: only then does SIGHUP mean reload. */
static atomic_int sighup_reloads;

/* usage - the synopsis, for -h and for mistakes */
static void usage(FILE *out)
{
	fprintf(out,
	        "usage: mtahooks-milter [-c FILE] [-p SOCKET] [-f] [-u USER[:GROUP]] [-P PIDFILE]\n"
	        "                       [-v] [-n] [-V] [-h]\n"
	        "       mtahooks-milter [-c FILE] [-v] --dry-run MESSAGE [--from ADDR]\n"
	        "                       [--rcpt ADDR]... [--client-ip IP] [--helo NAME]\n"
	        "                       [--stage STAGE] [--json]\n"
	        "  -c FILE    configuration file (default %s)\n"
	        "  -p SOCKET  listen on SOCKET (unix:/path, local:/path, inet:PORT@HOST,\n"
	        "             inet6:PORT@HOST), overriding [milter] listen\n"
	        "  -f         stay in the foreground and log to standard error\n"
	        "  -u USER    run as USER (and GROUP) once the socket is open\n"
	        "  -P FILE    write the process id to FILE\n"
	        "  -v         log more (twice: debug)\n"
	        "  -n         check the configuration, print what is wrong or\n"
	        "             \"configuration OK\", and exit 0 or 1\n"
	        "  -V         print the version and exit\n"
	        "  -h         print this help and exit\n"
	        "  --dry-run MESSAGE   play the message file (- for standard input) through\n"
	        "             the configured hooks as an SMTP session would, without an MTA,\n"
	        "             and print each request, each answer and the milter actions\n"
	        "  --from ADDR         MAIL FROM (default: Return-Path:, else From:)\n"
	        "  --rcpt ADDR         RCPT TO, repeatable (default: To: and Cc:)\n"
	        "  --client-ip IP      the client's address (default 127.0.0.1)\n"
	        "  --helo NAME         the HELO/EHLO name (default localhost)\n"
	        "  --stage STAGE       stop after connect, ehlo, mail, rcpt or data (default)\n"
	        "  --json              one JSON document instead of text\n",
	        CONFIG_DEFAULT_PATH);
}

/* add_rcpt - keep one more --rcpt; -1 on ENOMEM */
static int add_rcpt(struct options *o, const char *addr)
{
	const char **v;

	if (o->dry.nrcpt >= SIZE_MAX / sizeof(*v) - 1 ||
	    (v = realloc(o->rcpts, (o->dry.nrcpt + 1) * sizeof(*v))) == NULL)
		return -1;
	o->rcpts = v;
	v[o->dry.nrcpt++] = addr;
	o->dry.rcpt = v;
	return 0;
}

/* dry_option - note a --dry-run option, so that one given without --dry-run is refused */
static void dry_option(struct options *o, const char *name)
{
	if (!o->dry_only)
		o->dry_only_name = name;
	o->dry_only = 1;
}

/* parse_args - the command line into options; 0, or the exit status to leave with */
static int parse_args(int argc, char **argv, struct options *o)
{
	int ch;

	o->config_path = CONFIG_DEFAULT_PATH;
	o->dry.last_stage = STAGE_DATA;
	while ((ch = getopt_long(argc, argv, "c:p:fu:P:vnVh", long_options, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config_path = optarg;
			break;
		case 'p':
			o->listen = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'P':
			o->pidfile = optarg;
			break;
		case 'v':
			o->verbosity++;
			break;
		case 'n':
			o->check_only = 1;
			break;
		case 'V':
			printf("mtahooks-milter %s\n", PACKAGE_VERSION);
			return -1;
		case 'h':
			usage(stdout);
			return -1;
		case OPT_DRY_RUN:
			o->dry_run = 1;
			break;
		case OPT_FROM:
			dry_option(o, "--from");
			o->dry.from = optarg;
			break;
		case OPT_RCPT:
			dry_option(o, "--rcpt");
			if (add_rcpt(o, optarg) < 0) {
				fprintf(stderr, "mtahooks-milter: out of memory\n");
				return 1;
			}
			break;
		case OPT_CLIENT_IP:
			dry_option(o, "--client-ip");
			o->dry.client_ip = optarg;
			break;
		case OPT_HELO:
			dry_option(o, "--helo");
			o->dry.helo = optarg;
			break;
		case OPT_STAGE:
			dry_option(o, "--stage");
			/* "auth" is a valid configuration stage that never fires: not one to stop
			 * at. */
			if (stage_parse(optarg, &o->dry.last_stage) != 0) {
				fprintf(
				    stderr,
				    "mtahooks-milter: --stage: unknown stage \"%s\" (use connect, "
				    "ehlo, mail, rcpt or data)\n",
				    optarg);
				return 1;
			}
			break;
		case OPT_JSON:
			dry_option(o, "--json");
			o->dry.json = 1;
			break;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (o->dry_run) {
		if (o->check_only || o->listen || o->foreground || o->user || o->pidfile) {
			fprintf(stderr, "mtahooks-milter: --dry-run takes only -c and -v of the "
			                "daemon's options\n");
			return 1;
		}
		if (optind != argc - 1) {
			fprintf(stderr, "mtahooks-milter: --dry-run needs one message file (- for "
			                "standard input)\n");
			usage(stderr);
			return 1;
		}
		o->dry.message = argv[optind];
		return 0;
	}
	if (o->dry_only) {
		fprintf(stderr, "mtahooks-milter: %s is an option of --dry-run\n",
		        o->dry_only_name);
		usage(stderr);
		return 1;
	}
	if (optind != argc) {
		fprintf(stderr, "mtahooks-milter: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 1;
	}
	return 0;
}

/* dry_run - load the configuration and play a message through its hooks; the exit status */
static int dry_run(const struct options *o)
{
	struct config_errors errs = {0};
	struct config *cfg;
	int rc;

	if ((cfg = config_load(o->config_path, &errs)) == NULL) {
		rc = report_errors(&errs);
		config_errors_free(&errs);
		return rc;
	}
	signal(SIGPIPE, SIG_IGN);
	rc = dryrun_run(cfg, &o->dry, stdout);
	config_unref(cfg);
	return rc;
}

/* report_errors - print every configuration problem; the exit status that follows */
static int report_errors(const struct config_errors *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		fprintf(stderr, "%s\n", errs->msgs[i]);
	return 1;
}

/* socket_path - the file behind a unix:/local: socket spec; 0 when it has one */
static int socket_path(const char *listen, const char **path)
{
	if (strncmp(listen, "unix:", 5) == 0)
		*path = listen + 5;
	else if (strncmp(listen, "local:", 6) == 0)
		*path = listen + 6;
	else
		return -1;
	return 0;
}

/* drop_privileges - become USER[:GROUP], giving the unix socket to them first */
static int drop_privileges(const char *spec, const char *listen)
{
	char user[256];
	const char *group = strchr(spec, ':'), *path;
	struct passwd *pw;
	gid_t gid;
	size_t ulen = group ? (size_t)(group - spec) : strlen(spec);

	if (ulen == 0 || ulen >= sizeof(user)) {
		log_msg(LOG_ERR, "-u: invalid user \"%s\"", spec);
		return -1;
	}
	memcpy(user, spec, ulen);
	user[ulen] = '\0';
	if ((pw = getpwnam(user)) == NULL) {
		log_msg(LOG_ERR, "-u: no such user \"%s\"", user);
		return -1;
	}
	gid = pw->pw_gid;
	if (group) {
		struct group *gr = getgrnam(group + 1);

		if (gr == NULL) {
			log_msg(LOG_ERR, "-u: no such group \"%s\"", group + 1);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (socket_path(listen, &path) == 0 && chown(path, pw->pw_uid, gid) < 0) {
		log_msg(LOG_ERR, "cannot give socket %s to %s: %s", path, user, strerror(errno));
		return -1;
	}
	if (setgroups(0, NULL) < 0 && errno != EPERM) {
		log_msg(LOG_ERR, "setgroups: %s", strerror(errno));
		return -1;
	}
	if (initgroups(user, gid) < 0 || setgid(gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_msg(LOG_ERR, "cannot become %s: %s", spec, strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		log_msg(LOG_ERR, "privileges could not be dropped for good");
		return -1;
	}
	log_msg(LOG_INFO, "running as %s (uid %ld, gid %ld)", user, (long)pw->pw_uid, (long)gid);
	return 0;
}

/* daemonize - detach from the terminal: fork, new session, standard files to /dev/null */
static int daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0) {
		log_msg(LOG_ERR, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	if (setsid() < 0) {
		log_msg(LOG_ERR, "setsid: %s", strerror(errno));
		return -1;
	}
	if (chdir("/") < 0)
		return -1;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

/* write_pidfile - the process id, one line */
static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
		log_msg(LOG_ERR, "cannot write pid file %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * sigwait - the C library's, for libmilter's signal thread (see SIGNALS at the top): SIGHUP
 * requests a reload and is not returned; every other signal is, as sigwait would return it
 */
int sigwait(const sigset_t *restrict set, int *restrict sig)
{
	for (;;) {
		int got = sigwaitinfo(set, NULL);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (got == SIGHUP && atomic_load(&sighup_reloads)) {
			reload_request();
			continue;
		}
		*sig = got;
		return 0;
	}
}

/* sigwait_is_ours - whether the process binds sigwait to the definition above */
static int sigwait_is_ours(void)
{
	int (*bound)(const sigset_t *restrict, int *restrict);
	void *sym = dlsym(RTLD_DEFAULT, "sigwait");

	/* ISO C has no cast from an object pointer to a function pointer; copy the bits. */
	if (sym == NULL)
		return 0;
	memcpy(&bound, &sym, sizeof(bound));
	return bound == sigwait;
}

/* reload_request - wake the reload thread; called by libmilter's signal thread */
static void reload_request(void)
{
	pthread_mutex_lock(&reloader.lock);
	reloader.requested = 1;
	pthread_cond_signal(&reloader.wake);
	pthread_mutex_unlock(&reloader.lock);
}

/*
 * reload_start - start the reload thread: from now on SIGHUP reloads; 0 ok, -1 logged.
 * Takes path (absolute_path's, so NULL is out of memory) whatever happens.
 */
static int reload_start(char *path, const char *listen, int listen_given,
                        const char *metrics_listen)
{
	int rc;

	reloader.path = path;
	reloader.listen = strdup(listen);
	reloader.listen_given = listen_given;
	reloader.metrics = metrics_listen != NULL ? strdup(metrics_listen) : NULL;
	if (reloader.path == NULL || reloader.listen == NULL ||
	    (metrics_listen != NULL && reloader.metrics == NULL)) {
		log_msg(LOG_ERR, "out of memory starting the reload thread");
		goto fail;
	}
	if ((rc = pthread_create(&reloader.thread, NULL, reload_main, NULL)) != 0) {
		log_msg(LOG_ERR, "cannot start the reload thread: %s", strerror(rc));
		goto fail;
	}
	atomic_store(&sighup_reloads, 1);
	if (!sigwait_is_ours())
		log_msg(LOG_WARNING, "SIGHUP stops the daemon here: libmilter's signal thread does "
		                     "not use our sigwait (static or unusual linking?)");
	return 0;
fail:
	free(reloader.path);
	free(reloader.listen);
	free(reloader.metrics);
	reloader.path = reloader.listen = reloader.metrics = NULL;
	return -1;
}

/* reload_stop - end the reload thread, after the reload it may be doing */
static void reload_stop(void)
{
	if (reloader.path == NULL)
		return;
	atomic_store(&sighup_reloads, 0);
	pthread_mutex_lock(&reloader.lock);
	reloader.stopping = 1;
	pthread_cond_signal(&reloader.wake);
	pthread_mutex_unlock(&reloader.lock);
	pthread_join(reloader.thread, NULL);
	free(reloader.path);
	free(reloader.listen);
	free(reloader.metrics);
	reloader.path = reloader.listen = reloader.metrics = NULL;
}

/* reload_main - the reload thread: one reload per wake-up, however many SIGHUPs came */
static void *reload_main(void *arg)
{
	pthread_mutex_lock(&reloader.lock);
	for (;;) {
		while (!reloader.requested && !reloader.stopping)
			pthread_cond_wait(&reloader.wake, &reloader.lock);
		if (reloader.stopping)
			break;
		reloader.requested = 0;
		pthread_mutex_unlock(&reloader.lock);
		reload_now();
		pthread_mutex_lock(&reloader.lock);
	}
	pthread_mutex_unlock(&reloader.lock);
	(void)arg;
	return NULL;
}

/* reload_now - load the file again; swap it in, or keep the one in force and say why */
static void reload_now(void)
{
	struct config_errors errs = {0};
	struct config *cfg = config_load(reloader.path, &errs);
	size_t nhooks;

	if (cfg != NULL && metrics_bind(cfg) < 0) {
		log_msg(LOG_ERR,
		        "configuration reload from %s refused: out of memory; the "
		        "configuration in force stays",
		        reloader.path);
		config_unref(cfg);
		metrics_reload(0);
		return;
	}
	if (cfg == NULL) {
		metrics_reload(0);
		for (size_t i = 0; i < errs.count; i++)
			log_msg(LOG_ERR, "%s", errs.msgs[i]);
		log_msg(LOG_ERR,
		        "configuration reload from %s refused: %zu problem%s; the configuration "
		        "in force stays",
		        reloader.path, errs.count, errs.count == 1 ? "" : "s");
		config_errors_free(&errs);
		return;
	}
	if (!reloader.listen_given && strcmp(cfg->listen, reloader.listen) != 0)
		log_msg(LOG_WARNING,
		        "%s: [milter] listen changed to \"%s\": a restart is needed for that; "
		        "still listening on %s",
		        reloader.path, cfg->listen, reloader.listen);
	if (!same_string(cfg->metrics_listen, reloader.metrics))
		log_msg(LOG_WARNING,
		        "%s: [metrics] listen changed to \"%s\": a restart is needed for that; "
		        "metrics still %s%s",
		        reloader.path, cfg->metrics_listen ? cfg->metrics_listen : "(none)",
		        reloader.metrics ? "on " : "off", reloader.metrics ? reloader.metrics : "");
	nhooks = cfg->nhooks;
	/* Shown from the swap on: the hooks a reload removed leave the scrape with it. */
	metrics_show(cfg);
	/* Logged once in force: a connection opened after this line negotiates with it. */
	config_set_current(cfg);
	metrics_reload(1);
	log_msg(LOG_NOTICE, "configuration reloaded from %s: %zu hook%s", reloader.path, nhooks,
	        nhooks == 1 ? "" : "s");
}

/* same_string - whether two optional strings are equal (both NULL counts) */
static int same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* absolute_path - path, made absolute against the working directory (links kept as they are) */
static char *absolute_path(const char *path)
{
	char cwd[4096];
	size_t n;
	char *out;

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return strdup(path);
	n = strlen(cwd) + strlen(path) + 2;
	if ((out = malloc(n)) != NULL)
		snprintf(out, n, "%s/%s", cwd, path);
	return out;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct config_errors errs = {0};
	struct config *cfg;
	const char *listen, *metrics_listen;
	char *config_abs = NULL; /* for reloads: made absolute before detaching changes to / */
	sigset_t stops;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc == 0 && o.dry_run) {
		/* Log lines go to stderr, the report to stdout: never mixed. */
		log_init(1, o.verbosity);
		rc = dry_run(&o);
	}
	if (rc != 0 || o.dry_run) {
		free(o.rcpts);
		return rc < 0 ? 0 : rc;
	}
	log_init(o.foreground || o.check_only, o.verbosity);
	/*
	 * A daemon blocks its stop and reload signals at once, before any other thread exists,
	 * so that all inherit it (SIGNALS at the top); one sent while it starts waits for
	 * libmilter. -n keeps the default actions: nothing there to finish or reload.
	 */
	if (!o.check_only) {
		sigemptyset(&stops);
		sigaddset(&stops, SIGHUP);
		sigaddset(&stops, SIGTERM);
		sigaddset(&stops, SIGINT);
		if ((rc = pthread_sigmask(SIG_BLOCK, &stops, NULL)) != 0) {
			log_msg(LOG_ERR, "cannot block signals: %s", strerror(rc));
			return 1;
		}
	}
	if ((cfg = config_load(o.config_path, &errs)) == NULL) {
		rc = report_errors(&errs);
		config_errors_free(&errs);
		return rc;
	}
	if (o.check_only && o.listen && config_check_listen(o.listen) < 0) {
		fprintf(stderr, "mtahooks-milter: -p: invalid socket \"%s\"\n", o.listen);
		config_unref(cfg);
		return 1;
	}
	if (o.check_only) {
		printf("configuration OK\n");
		config_unref(cfg);
		return 0;
	}
	listen = o.listen ? o.listen : cfg->listen;
	if (config_check_listen(listen) < 0) {
		fprintf(stderr,
		        "mtahooks-milter: -p: invalid socket \"%s\" (use unix:/path, local:/path, "
		        "inet:PORT@HOST or inet6:PORT@HOST)\n",
		        listen);
		config_unref(cfg);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	config_abs = absolute_path(o.config_path);

	if (metrics_bind(cfg) < 0) {
		log_msg(LOG_ERR, "out of memory");
		goto fail;
	}
	if (milter_open(listen) < 0)
		goto fail;
	/*
	 * The metrics socket is bound here, before detaching, so that a port in use is an
	 * error on the terminal and exit status 1; it is served by a thread started after the
	 * fork (which keeps no thread) and after the privilege drop (no thread sees root).
	 */
	if (metrics_open(cfg->metrics_listen) < 0)
		goto fail;
	if (!o.foreground && daemonize() < 0)
		goto fail;
	if (o.pidfile && write_pidfile(o.pidfile) < 0)
		goto fail;
	if (o.user && drop_privileges(o.user, listen) < 0)
		goto fail;
	if (http_global_init() < 0) {
		log_msg(LOG_ERR, "cannot initialise libcurl");
		goto fail;
	}
	metrics_show(cfg);
	if (metrics_start() < 0)
		goto fail;
	log_msg(LOG_NOTICE, "mtahooks-milter %s listening on %s with %zu hook(s) from %s",
	        PACKAGE_VERSION, listen, cfg->nhooks, cfg->path);
	/* cfg stays alive as the snapshot until a reload, which reload_start enables. */
	metrics_listen = cfg->metrics_listen;
	config_set_current(cfg);
	cfg = NULL;
	rc = reload_start(config_abs, listen, o.listen != NULL, metrics_listen);
	config_abs = NULL; /* reload_start took it */
	if (rc < 0)
		goto fail;

	rc = milter_run();
	reload_stop();
	metrics_stop();
	log_msg(LOG_NOTICE, "stopped");
	config_set_current(NULL);
	http_global_cleanup();
	if (o.pidfile)
		unlink(o.pidfile);
	return rc == 0 ? 0 : 1;
fail:
	metrics_stop();
	free(config_abs);
	config_unref(cfg);
	return 1;
}
