#!/usr/bin/env bash
# proxykit developer entry point.
#   ./dev.sh start [twistd proxykit forward options]   set up .venv, run the forward proxy
#   ./dev.sh test                                      set up .venv and .venv-lowest, run the whole
#                                                      test suite (trial again in .venv-lowest, on
#                                                      the lowest Twisted setup.cfg allows)
#   ./dev.sh test TESTS                                run only trial TESTS, in .venv
# .venv gets the compiled build (mypyc; docs/performance.md, "A compiled
# build"), or pure Python with PROXYKIT_COMPILE=0; .venv-lowest is always
# pure Python, the tested fallback.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${PROXYKIT_VENV:-.venv}
LOWEST_VENV=${PROXYKIT_LOWEST_VENV:-.venv-lowest}
PY=${PYTHON:-python3}
COMPILE=${PROXYKIT_COMPILE:-1}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

apt_install() {
    # Install Debian packages that are missing (quietly; only when needed).
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || { echo "dev.sh: please install: ${missing[*]}" >&2; return 1; }
    as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

compile_toolchain() {
    # A C compiler and the Python headers, for the compiled build (without
    # them it installs as pure Python, saying so).
    command -v "${CC:-gcc}" >/dev/null || apt_install gcc libc6-dev || true
    "$PY" -c 'import os, sys, sysconfig
sys.exit(not os.path.isfile(os.path.join(sysconfig.get_path("include"), "Python.h")))' ||
        apt_install python3-dev || true
}

setup_venv() {
    # setup_venv EXTRAS [VENV [PIP ARGS...]]: proxykit and EXTRAS into VENV
    # (default $VENV), with any further requirements given; compiled when
    # BUILD=compiled, else pure Python.
    local extras=$1 venv=${2:-$VENV} compile=0
    shift; [ $# -gt 0 ] && shift
    if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        apt_install python3-venv
    fi
    [ "${BUILD:-pure}" = compiled ] && { compile=1; compile_toolchain; }
    [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    PROXYKIT_COMPILE=$compile "$venv/bin/python" -m pip install -q --disable-pip-version-check ".$extras" "$@"
    # Asked from outside the checkout, whose proxykit/ is pure Python.
    local python=$venv/bin/python
    case $python in /*) ;; *) python=$PWD/$python ;; esac
    if [ "$compile" = 1 ] &&
        ! (cd / && "$python" -c 'import proxykit, sys; sys.exit(not proxykit.COMPILED)' 2>/dev/null); then
        echo "dev.sh: the compiled build could not be made: $venv runs pure Python" \
            "(PROXYKIT_COMPILE=1 $venv/bin/pip install -v . says why)" >&2
    fi
}

venv_build() {
    # What .venv gets: the compiled build unless PROXYKIT_COMPILE=0.
    if [ "$COMPILE" = 0 ]; then echo pure; else echo compiled; fi
}

lowest_twisted() {
    # The lowest Twisted setup.cfg allows ("twisted>=X.Y" -> X.Y.0).
    sed -n 's/^ *twisted *>= *\([0-9.]*\).*$/\1/p' setup.cfg | awk -F. '{ printf "%s.%s.%s", $1, $2, ($3 == "" ? 0 : $3) }'
}

case "${1:-}" in
start)
    shift
    BUILD=$(venv_build) setup_venv ""
    exec "$VENV/bin/twistd" -n --pidfile= proxykit forward "$@"
    ;;
test)
    shift
    apt_install curl openssl
    # HAProxy in front of two proxykit instances (tests.integration.test_haproxy);
    # that test is skipped, saying why, where it cannot be installed.
    apt_install haproxy || echo "dev.sh: could not install haproxy: its integration test will be skipped" >&2
    BUILD=$(venv_build) setup_venv "[test,docs]"
    # systemd-socket-activate and systemd-analyze, for examples/systemd's
    # tests (skipped, saying why, where they cannot be installed).
    apt_install systemd || echo "dev.sh: package systemd not installed: its tests will be skipped" >&2
    if [ $# -eq 0 ]; then
        # The trial runs are repeated on the lowest Twisted.  Twisted 23.10
        # sets ALPN on a TLS context already in use (for twisted.web servers,
        # as the tests' origins are), which pyOpenSSL 26.2 made an error.
        lowest=$(lowest_twisted)
        BUILD=pure setup_venv "[test,docs]" "$LOWEST_VENV" "twisted==$lowest" "pyopenssl<26.2"
        export PROXYKIT_LOWEST_PYTHON="$LOWEST_VENV/bin/python"
    fi
    # The tests make their own builds (tests/integration/test_packaging.py).
    unset PROXYKIT_COMPILE
    exec "$VENV/bin/python" -m tests.runner "$@"
    ;;
*)
    echo "usage: $0 start [forward options] | test [trial test names]" >&2
    exit 2
    ;;
esac
