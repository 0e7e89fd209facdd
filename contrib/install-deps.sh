#!/bin/sh
# install-deps.sh - install what mtahooks-milter needs on Debian 12, from Debian's packages.
#
#   contrib/install-deps.sh          build and run the daemon
#   contrib/install-deps.sh --test   also what the test layers need (cmocka, miltertest,
#                                    Postfix, swaks, Cyrus SASL tools for AUTH tests,
#                                    nginx-light for tests/http and the
#                                    benchmark, Node.js for the example handler
#                                    contrib/hooks/policy.js, debhelper for the .deb
#                                    built from debian/, clang and its libFuzzer
#                                    runtime for tests/fuzz).
#                                    Sendmail is not installed: it conflicts with Postfix,
#                                    and tests/mta/sendmail.sh fetches its .debs itself.
#
# Must run as root. Postfix is installed with "No configuration" and is not started: the
# tests run their own private instance and never touch a system one.
set -eu

if [ "$(id -u)" != 0 ]; then
	echo "install-deps.sh: run as root (sudo $0 $*)" >&2
	exit 1
fi

build="build-essential autoconf automake pkg-config libmilter-dev libcurl4-openssl-dev
       libjson-c-dev libssl-dev libpcre2-dev libmicrohttpd-dev python3 ca-certificates openssl"
test="libcmocka-dev miltertest swaks postfix valgrind clang-format nginx-light curl
      sasl2-bin libsasl2-modules libsasl2-modules-db m4 util-linux clang libclang-rt-14-dev"
# contrib/: Node.js runs the example handler policy.js in its tests; debhelper builds the
# .deb from debian/ (tests/contrib/deb.sh).
test="$test nodejs debhelper"

pkgs=$build
[ "${1:-}" = "--test" ] && pkgs="$build $test"

export DEBIAN_FRONTEND=noninteractive
# A fresh Postfix install must not ask questions or configure a system mailer.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
