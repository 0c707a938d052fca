"""
TLS listeners in a Twisted application (docs/tls.rst): a proxy factory
wrapped by proxykit's ServerTLS, which picks the certificate by SNI.
"""

from twisted.internet.interfaces import IProtocolFactory


def listenTLS(proxyFactory: IProtocolFactory) -> object:
    # [start server-tls]
    from twisted.internet import endpoints, reactor

    from proxykit import CertificateConfig, TLSConfig
    from proxykit.tls import ServerTLS

    tls = ServerTLS(TLSConfig(
        listen=(),
        defaultCertificate=CertificateConfig("default.pem", "default.key"),
        certificates=(CertificateConfig("app.pem", "app.key", ("app.example.test",)),),
    ))
    endpoint = endpoints.serverFromString(reactor, "tcp:8443:interface=127.0.0.1")
    endpoint.listen(tls.wrap(proxyFactory))
    # [end server-tls]
    return endpoint
