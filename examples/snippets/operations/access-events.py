"""
The access log's events routed by an application (docs/operations.rst).
"""

# [start access-events]
from twisted.logger import globalLogPublisher


def accessEvents(event):
    if event.get("log_namespace") == "proxykit.access":
        print(event["client_addr"], event["status"], event["request_time"])


globalLogPublisher.addObserver(accessEvents)
# [end access-events]
