"""
A request through the forward proxy with Twisted's ProxyAgent
(docs/forward-proxy.rst), from a proxy on 127.0.0.1:8080 to a web server on
127.0.0.1:9001.
"""

# [start proxyagent]
from twisted.internet import endpoints, task
from twisted.web.client import ProxyAgent, readBody


async def main(reactor):
    proxy = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", 8080)
    agent = ProxyAgent(proxy, reactor)
    response = await agent.request(b"GET", b"http://127.0.0.1:9001/")
    body = await readBody(response)
    print(response.code, len(body))


task.react(main)
# [end proxyagent]
