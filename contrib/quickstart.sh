#!/bin/sh
# quickstart.sh - the README's first command: install what is needed (Debian 12, as root),
# build, and run the daemon in the foreground against the bundled example hook
# (contrib/hooks/policy.py on 127.0.0.1:8080), listening on inet:11332@127.0.0.1.
# Point Postfix at it with contrib/postfix/main.cf.milter; stop with Ctrl-C.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/_build}

"$top/contrib/install-deps.sh"
(cd "$top" && autoreconf -fi >/dev/null)
mkdir -p "$build"
(cd "$build" && "$top/configure" -q && make -s -j2)

python3 "$top/contrib/hooks/policy.py" 8080 &
hook=$!
trap 'kill "$hook" 2>/dev/null' EXIT INT TERM
"$build/src/mtahooks-milter" -n -c "$top/contrib/mtahooks-milter.toml"
echo "quickstart: the bridge listens on inet:11332@127.0.0.1; Ctrl-C stops both"
"$build/src/mtahooks-milter" -f -v -c "$top/contrib/mtahooks-milter.toml"
