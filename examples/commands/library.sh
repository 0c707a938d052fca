# Not a script: the shell commands of docs/library.rst, one marked region
# per block, run or checked by the tests (tests/test_docs.py).

# [start reverse-python]
.venv/bin/python examples/reverse_python.py
# [end reverse-python]

# [start curl-reverse-python]
curl --resolve app.example.test:8000:127.0.0.1 http://app.example.test:8000/api/
# [end curl-reverse-python]

# [start origin-9001]
python3 -m http.server 9001 --bind 127.0.0.1
# [end origin-9001]

# [start origin-9002]
python3 -m http.server 9002 --bind 127.0.0.1
# [end origin-9002]

# [start custom-router]
.venv/bin/python examples/custom_router.py
# [end custom-router]

# [start curl-custom-router]
curl http://127.0.0.1:8000/
curl -H 'X-Canary: 1' http://127.0.0.1:8000/
# [end curl-custom-router]

# [start hooks]
.venv/bin/python examples/hooks.py
# [end hooks]

# [start curl-hooks]
curl -x http://127.0.0.1:8081 http://127.0.0.1:9001/
curl -x http://127.0.0.1:8081 http://127.0.0.1:9001/admin/    # refused: 403
# [end curl-hooks]

# [start metrics]
.venv/bin/python examples/metrics.py
# [end metrics]

# [start curl-metrics]
curl -x http://127.0.0.1:8082 http://127.0.0.1:9001/
curl -s http://127.0.0.1:9902/metrics
# [end curl-metrics]
