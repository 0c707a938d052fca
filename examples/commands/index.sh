# Not a script: the shell commands of docs/index.rst, one marked region
# per block, run or checked by the tests (tests/integration/test_commands.py).

# [start start]
./dev.sh start
# [end start]

# [start origin]
python3 -m http.server 9001 --bind 127.0.0.1
# [end origin]

# [start curl]
curl -x http://127.0.0.1:8080 http://127.0.0.1:9001/
# [end curl]

# [start reverse]
.venv/bin/twistd -n proxykit reverse --route example.test=http://127.0.0.1:9001
# [end reverse]

# [start curl-reverse]
curl --resolve example.test:8000:127.0.0.1 http://example.test:8000/
# [end curl-reverse]

# [start suite]
./dev.sh test
# [end suite]
