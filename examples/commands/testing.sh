# Not a script: the shell commands of docs/testing.rst, one marked region
# per block, run or checked by the tests (tests/test_docs.py).

# [start trial]
.venv/bin/python -m twisted.trial examples/testing_reverse.py
# [end trial]

# [start pytest]
.venv/bin/python -m pytest examples/testing_reverse.py
# [end pytest]
