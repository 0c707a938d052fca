# Not a script: the shell commands of docs/testing.rst, one marked region
# per block, run or checked by the tests (tests/test_docs.py).

# [start trial]
.venv/bin/python -m twisted.trial examples/testing_reverse.py
# [end trial]

# [start pytest]
.venv/bin/python -m pytest examples/testing_reverse.py
# [end pytest]

# [start suite]
./dev.sh test
# [end suite]

# [start some]
./dev.sh test tests.test_docs tests.test_h1
# [end some]

# [start html]
.venv/bin/python -m sphinx -b html docs docs/_build/html
# [end html]
