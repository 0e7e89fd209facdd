#!/bin/sh
# run.sh - the --dry-run tests: the real program against the scripted hook server (TAP)
#
# Run by `make check` (automake's TAP driver) with MILTERTEST, PYTHON3, top_srcdir and
# top_builddir in the environment; runs by hand too (they default to what PATH and the
# script's location give). The cases are in check.py beside this file; it starts
# tests/lib/hookserver.py and, for the case that compares a real milter session with a
# dry run, the daemon and miltertest (that case is skipped without miltertest).
# Environment: KEEP_TMP=1 keeps the temporary directory.

set -u

PYTHON3=${PYTHON3:-$(command -v python3 2>/dev/null || true)}
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
MILTERTEST=${MILTERTEST:-$(command -v miltertest 2>/dev/null || true)}

if [ -z "$PYTHON3" ] || [ ! -x "$PYTHON3" ]; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
if [ ! -x "$top_builddir/src/mtahooks-milter" ]; then
	echo "Bail out! $top_builddir/src/mtahooks-milter not built"
	exit 1
fi
export top_srcdir top_builddir MILTERTEST
exec "$PYTHON3" "$here/check.py"
