"""
A plain HTTP request through the forward proxy with Python's urllib
(docs/forward-proxy.rst), from a proxy on 127.0.0.1:8080 to a web server on
127.0.0.1:9001.
"""

# [start urllib]
import urllib.request

proxy = "http://127.0.0.1:8080"
opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({"http": proxy, "https": proxy})
)
with opener.open("http://127.0.0.1:9001/") as response:
    print(response.status, len(response.read()))
# [end urllib]
