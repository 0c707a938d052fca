#!/usr/bin/env bash
# -*- test-case-name: tests.test_benchmypyc -*-
#
# The compiled build against pure Python, side by side, in-process (issue
# 14; the figures are in docs/performance.md, "A compiled build").
#
#   bench/mypyc_trial.sh [--requests N] [--tests] [--cachegrind] [SCRATCH]
#
# Copies this checkout's tracked files (as they are in the working tree)
# twice into SCRATCH (default: a new directory under /tmp), as pure/ and
# compiled/; makes SCRATCH/venv with this checkout's mypy version, mypyc
# (which comes with it), mypy-zope and proxykit's dependencies; compiles
# the modules below in place in compiled/ (this checkout's proxykit/ is
# never touched, and nothing is installed from compiled/); then prints
# bench/request_cost.py for both copies, in the same venv.
#   --requests N   requests per round of bench/request_cost.py (20000)
#   --tests        also run the unit tests against the compiled copy
#                  (trial -j2; its log in SCRATCH/trial-compiled.log)
#   --cachegrind   also count instructions per request under valgrind's
#                  cachegrind, for both copies (steadier on a busy machine)
# MODULES (environment) replaces the list of modules to compile; by
# default, those the compiled build compiles (proxykit/_compiled.py).
# Needs git, gcc and the Python headers, and the network or a package
# index for pip.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
PY=${PYTHON:-python3}
REQUESTS=20000
TESTS=0
CACHEGRIND=0
SCRATCH=

usage() { sed -n '4,24s/^# \{0,1\}//p' "$0"; }

while [ $# -gt 0 ]; do
    case "$1" in
    -h|--help) usage; exit 0 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --tests) TESTS=1; shift ;;
    --cachegrind) CACHEGRIND=1; shift ;;
    -*) echo "mypyc_trial.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) SCRATCH=$1; shift ;;
    esac
done

# The modules of the compiled build (PROXYKIT_COMPILE=1; setup.py reads
# the same list).  Left out of it, and why (mypy 2.4.1):
#   decisions.py: compiled, importing it failed (KeyError: 'object', the
#     annotation Forward.policy had then, in an attrs class); its attrs
#     classes would stay Python classes anyway.
#   _twistedcompat.py: a method defined under "if" in a class body.
MODULES=${MODULES:-$(cd "$ROOT" && "$PY" -c '
import ast
tree = ast.parse(open("proxykit/_compiled.py").read())
[names] = [ast.literal_eval(n.value) for n in tree.body
           if isinstance(n, ast.Assign) and [ast.unparse(t) for t in n.targets] == ["MODULES"]]
print(" ".join(name.replace(".", "/") + ".py" for name in names))')}

[ -n "$SCRATCH" ] || SCRATCH=$(mktemp -d /tmp/proxykit-mypyc.XXXXXX)
SCRATCH=$(realpath -m "$SCRATCH")
case "$SCRATCH/" in "$ROOT/"*) echo "mypyc_trial.sh: SCRATCH must be outside the checkout" >&2; exit 2 ;; esac
mkdir -p "$SCRATCH"
VENV=$SCRATCH/venv
echo "scratch: $SCRATCH"

for copy in pure compiled; do
    rm -rf "${SCRATCH:?}/$copy"
    mkdir -p "$SCRATCH/$copy"
    git -C "$ROOT" ls-files -z | (cd "$ROOT" && tar --null -T - -cf -) | tar -x -C "$SCRATCH/$copy"
done

# The checkout's own mypy version when its .venv has one.
MYPY=mypy
if [ -x "$ROOT/.venv/bin/python" ]; then
    version=$("$ROOT/.venv/bin/python" -c 'import mypy.version; print(mypy.version.__version__)' 2>/dev/null || true)
    [ -n "$version" ] && MYPY="mypy==$version"
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "$MYPY" mypy-zope setuptools wheel
# proxykit's dependencies, and proxykit itself (pure) for its console
# script: the copies come first on PYTHONPATH.
PROXYKIT_COMPILE=0 "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$SCRATCH/pure[test,docs]"
echo "mypy: $("$VENV/bin/mypy" --version)"

cd "$SCRATCH/compiled"
started=$(date +%s)
# shellcheck disable=SC2086
"$VENV/bin/mypyc" $MODULES >"$SCRATCH/mypyc.log" 2>&1 || {
    tail -20 "$SCRATCH/mypyc.log" >&2
    echo "mypyc_trial.sh: mypyc failed (log: $SCRATCH/mypyc.log)" >&2
    exit 1
}
echo "compiled $(echo $MODULES | wc -w) modules in $(( $(date +%s) - started )) s:" \
    "$(find proxykit -name '*.so' | wc -l) extension modules, plus the shared one"
grep -E ": (warning|error):" "$SCRATCH/mypyc.log" || true

echo "bench/request_cost.py, best of five rounds of $REQUESTS requests:"
"$VENV/bin/python" "$ROOT/bench/request_cost.py" --requests "$REQUESTS" \
    "$SCRATCH/pure" "$SCRATCH/compiled"

if [ "$CACHEGRIND" = 1 ]; then
    command -v valgrind >/dev/null || { echo "mypyc_trial.sh: valgrind not installed" >&2; exit 1; }
    loop='
import sys
from tests._harness import GET, OK, Harness
h = Harness()
h.send(GET)
origin, ot = h.acceptOrigin()
origin.dataReceived(OK)
h.received()
for _ in range(int(sys.argv[1])):
    h.send(GET)
    origin.dataReceived(OK)
    h.received()
    ot.clear()
'
    instructions() {
        (cd "$1" && PYTHONPATH=$1 PYTHONHASHSEED=0 valgrind --tool=cachegrind --cache-sim=no \
            --cachegrind-out-file=/dev/null "$VENV/bin/python" -c "$loop" "$2" 2>&1 >/dev/null) |
            sed -n 's/.*I *refs: *//p' | tr -d ,
    }
    echo "cachegrind, instructions per request (3,000 requests less 1,000):"
    for copy in pure compiled; do
        few=$(instructions "$SCRATCH/$copy" 1000)
        many=$(instructions "$SCRATCH/$copy" 3000)
        echo "  $(( (many - few) / 2000 ))  $copy"
    done
fi

if [ "$TESTS" = 1 ]; then
    # Tests that run .venv/bin/proxykit or .venv/bin/twistd find the
    # scratch venv, and the compiled copy through PYTHONPATH.
    ln -sfn "$VENV" "$SCRATCH/compiled/.venv"
    echo "unit tests against the compiled copy (log: $SCRATCH/trial-compiled.log):"
    status=0
    PYTHONPATH=$SCRATCH/compiled "$VENV/bin/python" -m twisted.trial -j2 \
        --temp-directory "$SCRATCH/_trial" tests >"$SCRATCH/trial-compiled.log" 2>&1 || status=$?
    # The ids of the tests that failed or erred.
    awk '/^\[(FAIL|ERROR)\]/ { f = 1 } /^\[(SKIPPED|TODO|EXPECTED|UNEXPECTED)/ { f = 0 }
         f && /^tests\./' "$SCRATCH/trial-compiled.log" | sort -u
    tail -1 "$SCRATCH/trial-compiled.log"
    exit "$status"
fi
