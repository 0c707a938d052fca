"""
The JSON log observer of docs/security.rst: copied to proxykit_log.py in the
checkout, twistd --logger proxykit_log.observer writes every event as one
JSON object a line.
"""

# [start json-observer]
from twisted.logger import jsonFileLogObserver


def observer():
    return jsonFileLogObserver(open("proxykit.json", "a"))
# [end json-observer]
