#!/usr/bin/env bash
# proxykit developer entry point.
#   ./dev.sh start [twistd proxykit forward options]   set up .venv, run the forward proxy
#   ./dev.sh test                                      set up .venv, run the whole test suite
set -euo pipefail
cd "$(dirname "$0")"
VENV=${PROXYKIT_VENV:-.venv}
PY=${PYTHON:-python3}

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

setup_venv() {
    local extras=$1
    if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        apt_install python3-venv
    fi
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check ".$extras"
}

case "${1:-}" in
start)
    shift
    setup_venv ""
    exec "$VENV/bin/twistd" -n --pidfile= proxykit forward "$@"
    ;;
test)
    shift
    apt_install curl openssl
    setup_venv "[test,docs]"
    exec "$VENV/bin/python" -m tests.runner "$@"
    ;;
*)
    echo "usage: $0 start [forward options] | test [trial test names]" >&2
    exit 2
    ;;
esac
