# Not a script: the shell commands of docs/web.rst, one marked region
# per block, run or checked by the tests (tests/test_docs.py).

# [start origin]
python3 -m http.server 8000 --bind 127.0.0.1
# [end origin]

# [start site]
.venv/bin/python examples/web_site.py 8080 8000
# [end site]

# [start curl]
curl http://127.0.0.1:8080/hello
curl http://127.0.0.1:8080/api/README.md
# [end curl]
