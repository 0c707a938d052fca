#!/usr/bin/env bash
# The commands of docs/tutorials/embedding.rst, "Embedding proxykit in a
# Twisted application", one step between each [start NAME] and [end NAME]
# marker, run from the checkout.  The servers stay in the foreground, each
# in a terminal of its own.  tests/integration/test_tutorials.py runs every
# step, on free ports.

# [start origin]
python3 -m http.server 9001 --bind 127.0.0.1
# [end origin]

# [start application]
.venv/bin/python examples/tutorial/embed.py
# [end application]

# [start curl-proxy]
curl -i --resolve app.example.test:8000:127.0.0.1 http://app.example.test:8000/
# [end curl-proxy]

# [start curl-health]
curl http://127.0.0.1:8000/health
# [end curl-health]

# [start curl-stats]
curl http://127.0.0.1:8001/stats
# [end curl-stats]
