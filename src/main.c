/* main.c - command line, configuration, privileges, daemon life (DESIGN.md "Command line") */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "build-config.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "milter.h"

struct options {
	const char *config_path; /* -c */
	const char *listen;      /* -p, overrides [milter] listen */
	int foreground;          /* -f */
	const char *user;        /* -u USER[:GROUP] */
	const char *pidfile;     /* -P */
	int verbosity;           /* -v, repeatable */
	int check_only;          /* -n */
};

static void usage(FILE *out);
static int parse_args(int argc, char **argv, struct options *o);
static int report_errors(const struct config_errors *errs);
static int socket_path(const char *listen, const char **path);
static int drop_privileges(const char *spec, const char *listen);
static int daemonize(void);
static int write_pidfile(const char *path);

/* usage - the synopsis, for -h and for mistakes */
static void usage(FILE *out)
{
	fprintf(out,
	        "usage: mtahooks-milter [-c FILE] [-p SOCKET] [-f] [-u USER[:GROUP]] [-P PIDFILE]\n"
	        "                       [-v] [-n] [-V] [-h]\n"
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
	        "  -h         print this help and exit\n",
	        CONFIG_DEFAULT_PATH);
}

/* parse_args - the command line into options; 0, or the exit status to leave with */
static int parse_args(int argc, char **argv, struct options *o)
{
	int ch;

	o->config_path = CONFIG_DEFAULT_PATH;
	while ((ch = getopt(argc, argv, "c:p:fu:P:vnVh")) != -1) {
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
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mtahooks-milter: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 1;
	}
	return 0;
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

int main(int argc, char **argv)
{
	struct options o = {0};
	struct config_errors errs = {0};
	struct config *cfg;
	const char *listen;
	int rc;

	if ((rc = parse_args(argc, argv, &o)) != 0)
		return rc < 0 ? 0 : rc;
	log_init(o.foreground || o.check_only, o.verbosity);
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

	if (milter_open(listen) < 0)
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
	log_msg(LOG_NOTICE, "mtahooks-milter %s listening on %s with %zu hook(s) from %s",
	        PACKAGE_VERSION, listen, cfg->nhooks, cfg->path);
	config_set_current(cfg);
	cfg = NULL;

	rc = milter_run();
	log_msg(LOG_NOTICE, "stopped");
	config_set_current(NULL);
	http_global_cleanup();
	if (o.pidfile)
		unlink(o.pidfile);
	return rc == 0 ? 0 : 1;
fail:
	config_unref(cfg);
	return 1;
}
