# Not a script: the shell commands of docs/performance.rst, one marked
# region per block.  They run the benchmark, which needs a quiet machine
# and root for apt-get: the tests check their form (tests/test_benchpage.py)
# and do not run them.

# [start run]
python3 bench/run.py
# [end run]

# [start run-mode]
python3 bench/run.py --mode forward
python3 bench/run.py --mode reverse
python3 bench/run.py --mode tls
# [end run-mode]

# [start quick]
python3 bench/run.py --quick
# [end quick]

# [start scale]
python3 bench/run.py --mode forward --proxies proxykit --skip http --skip tunnel --skip slow
# [end scale]

# [start publish]
python3 bench/publish.py bench/results/latest.json
# [end publish]
