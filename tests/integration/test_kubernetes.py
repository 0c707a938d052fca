"""
The Kubernetes manifests of examples/kubernetes/: they parse, they agree
with each other and with the proxykit configuration their ConfigMap
carries (ports, probes, drain time, the headless Service of the origins),
that configuration passes C{proxykit check} (the installed console script),
and a real C{twistd proxykit} run on it (ports moved to free loopback ones)
answers the probes' paths.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from typing import Any
from urllib.parse import urlsplit

import yaml
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.scripts.twistd import ServerOptions
from twisted.trial.unittest import TestCase

from proxykit.config import ProxyConfig

from ._subprocess import ROOT, STOP_TIMEOUT, run, startTwistd
from .test_admin import get
from .test_lifecycle import freePort

MANIFESTS = os.path.join(ROOT, "examples", "kubernetes")
CONFIG_KEY = "reverse.toml"


def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    """
    Every object of examples/kubernetes/*.yaml, by kind and name.
    """
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for name in sorted(os.listdir(MANIFESTS)):
        if name.endswith(".yaml"):
            with open(os.path.join(MANIFESTS, name)) as f:
                for document in yaml.safe_load_all(f):
                    key = (document["kind"], document["metadata"]["name"])
                    assert key not in found, key
                    found[key] = document
    return found


def container() -> dict[str, Any]:
    """
    The proxykit container of the Deployment.
    """
    [only] = manifests()[("Deployment", "proxykit")]["spec"]["template"]["spec"]["containers"]
    return only  # type: ignore[no-any-return]


def configText() -> str:
    """
    The TOML the ConfigMap carries.
    """
    return manifests()[("ConfigMap", "proxykit-config")]["data"][CONFIG_KEY]  # type: ignore[no-any-return]


def containerPort(name: str) -> int:
    """
    The number of the container port called C{name}.
    """
    [port] = [p["containerPort"] for p in container()["ports"] if p["name"] == name]
    return port  # type: ignore[no-any-return]


def tcpPort(endpoint: str) -> tuple[int, str]:
    """
    The port and interface of a C{tcp:PORT:interface=ADDRESS} endpoint.
    """
    match = re.fullmatch(r"tcp:(\d+):interface=([0-9.]+)", endpoint)
    assert match is not None, endpoint
    return int(match.group(1)), match.group(2)


class ManifestTests(TestCase):
    """
    The manifests hold together.
    """

    timeout = 60

    def config(self) -> ProxyConfig:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(configText())
        return ProxyConfig.fromFile(path)

    def test_objects(self) -> None:
        """
        Four objects: the ConfigMap, the proxykit Deployment and Service,
        and the origins' headless Service.
        """
        self.assertEqual(
            sorted(manifests()),
            [("ConfigMap", "proxykit-config"), ("Deployment", "proxykit"), ("Service", "app"), ("Service", "proxykit")],
        )

    def test_check(self) -> None:
        """
        The ConfigMap's configuration passes C{proxykit check} in reverse
        mode.
        """
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(configText())
        script = os.path.join(os.path.dirname(sys.executable), "proxykit")
        result = run([script, "check", path, "--mode", "reverse"], ROOT, 60)
        self.assertEqual(result.returncode, 0, result.stdout)
        self.assertIn(f"{path}: ok (reverse mode)", result.stdout)

    def test_configMounted(self) -> None:
        """
        The container runs C{twistd -n proxykit reverse} on the ConfigMap's
        file, mounted read-only where its C{--config} points; twistd's
        option parser accepts that command line; the image's Dockerfile runs
        the same command.
        """
        spec = manifests()[("Deployment", "proxykit")]["spec"]["template"]["spec"]
        [volume] = spec["volumes"]
        self.assertEqual(volume["configMap"]["name"], "proxykit-config")
        [mount] = container()["volumeMounts"]
        self.assertEqual((mount["name"], mount["readOnly"]), (volume["name"], True))
        argv = container()["command"] + container()["args"]
        self.assertEqual(argv[:4], ["twistd", "-n", "--pidfile=", "proxykit"])
        configPath = argv[argv.index("--config") + 1]
        self.assertEqual(configPath, os.path.join(mount["mountPath"], CONFIG_KEY))
        local = os.path.abspath(self.mktemp())
        with open(local, "w") as f:
            f.write(configText())
        options = ServerOptions()
        options.parseOptions([local if a == configPath else a for a in argv[1:]])
        self.assertEqual(options.subOptions.subCommand, "reverse")
        self.assertEqual(options.subOptions.subOptions["proxyConfig"], self.config())
        with open(os.path.join(MANIFESTS, "Dockerfile")) as f:
            dockerfile = f.read()
        entrypoint = re.search(r"^ENTRYPOINT (.*)$", dockerfile, re.M)
        cmd = re.search(r"^CMD (.*)$", dockerfile, re.M)
        assert entrypoint is not None and cmd is not None
        self.assertEqual(json.loads(entrypoint.group(1)), container()["command"])
        self.assertEqual(json.loads(cmd.group(1)), container()["args"])

    def test_probes(self) -> None:
        """
        The liveness probe is C{/healthz} and the readiness probe C{/readyz},
        both on the container port of the admin listener, which listens on
        every pod interface (the kubelet connects to the pod's address).
        """
        config = self.config()
        assert config.admin.listen is not None
        port, interface = tcpPort(config.admin.listen)
        self.assertEqual(interface, "0.0.0.0")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            httpGet = container()[probe]["httpGet"]
            self.assertEqual((httpGet["path"], containerPort(httpGet["port"])), (path, port), probe)

    def test_traffic(self) -> None:
        """
        The Service sends port 80 to the container port the proxy listens
        on (every pod interface), and selects the Deployment's pods.
        """
        config = self.config()
        [listen] = config.listen
        port, interface = tcpPort(listen)
        self.assertEqual(interface, "0.0.0.0")
        service = manifests()[("Service", "proxykit")]["spec"]
        [servicePort] = service["ports"]
        self.assertEqual((servicePort["port"], containerPort(servicePort["targetPort"])), (80, port))
        deployment = manifests()[("Deployment", "proxykit")]["spec"]
        labels = deployment["template"]["metadata"]["labels"]
        self.assertEqual(deployment["selector"]["matchLabels"], labels)
        self.assertLessEqual(service["selector"].items(), labels.items())

    def test_drain(self) -> None:
        """
        A terminating pod waits in C{preStop}, then drains for at most
        C{timeouts.drain}; the grace period is longer than both together,
        so SIGKILL never cuts a drain short.
        """
        pod = manifests()[("Deployment", "proxykit")]["spec"]["template"]["spec"]
        command = container()["lifecycle"]["preStop"]["exec"]["command"]
        self.assertEqual(command[0], "sleep")
        pause = float(command[1])
        self.assertGreater(pause, 0)
        self.assertGreater(pod["terminationGracePeriodSeconds"], pause + self.config().timeouts.drain)

    def test_origins(self) -> None:
        """
        The route's origin is the headless Service's DNS name (no cluster
        IP: the name answers with every ready pod's address) and port.
        """
        service = manifests()[("Service", "app")]
        self.assertEqual(service["spec"]["clusterIP"], "None")
        [port] = service["spec"]["ports"]
        namespace = service["metadata"].get("namespace", "default")
        [vhost] = self.config().reverse.vhosts
        [route] = vhost.routes
        [origin] = route.origins
        url = urlsplit(origin.url)
        self.assertEqual(
            (url.scheme, url.hostname, url.port),
            ("http", f"{service['metadata']['name']}.{namespace}.svc.cluster.local", port["port"]),
        )


class ProbeTests(TestCase):
    """
    The ConfigMap's configuration, run by C{twistd proxykit} (ports moved to
    free loopback ones), answers the Deployment's probes.
    """

    timeout = 60

    def test_probesAnswer(self) -> Deferred[None]:
        """
        The probes' paths answer 200 on the admin port; SIGTERM ends the
        process with 0.
        """

        def check() -> None:
            admin = freePort()
            text = configText().replace("interface=0.0.0.0", "interface=127.0.0.1")
            text = text.replace('"tcp:8080:', '"tcp:0:').replace('"tcp:9901:', f'"tcp:{admin}:')
            path = os.path.abspath(self.mktemp())
            with open(path, "w") as f:
                f.write(text)
            child, _ = startTwistd(*container()["args"][:-1], path)
            self.addCleanup(child.stop)
            child.waitForLine(r"proxykit started: listening on")
            for probe in ("livenessProbe", "readinessProbe"):
                status, _, _ = get(f"http://127.0.0.1:{admin}{container()[probe]['httpGet']['path']}")
                self.assertEqual(status, 200, probe)
            child.process.send_signal(signal.SIGTERM)
            self.assertEqual(child.process.wait(STOP_TIMEOUT), 0, child.output())

        return deferToThread(check)


class DocumentedCheckTests(TestCase):
    """
    The Kubernetes part of docs/scaling.rst's "Deployment" section.
    """

    timeout = 60

    def test_checkCommands(self) -> None:
        """
        The two commands that extract the ConfigMap's configuration and
        check it run as written (in a scratch directory, so that the file
        they write lands there): the check passes.
        """
        from .test_systemd import deploymentBlocks

        [commands] = [block for block in deploymentBlocks("sh") if any("configmap.yaml" in c for c in block)]
        self.assertEqual(len(commands), 2, commands)
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        bin = os.path.dirname(sys.executable) + "/"
        outputs = []
        for command in commands:
            command = command.replace(".venv/bin/", bin).replace("examples/", os.path.join(ROOT, "examples") + "/")
            result = run(["sh", "-c", command], directory, 60)
            self.assertEqual(result.returncode, 0, f"{command}: {result.stdout}")
            outputs.append(result.stdout)
        self.assertIn("reverse.toml: ok (reverse mode)", outputs[1])
        with open(os.path.join(directory, "reverse.toml")) as f:
            self.assertEqual(f.read(), configText())

    def test_applyCommands(self) -> None:
        """
        The build and apply commands name the Dockerfile and the manifests'
        directory, and the Deployment the manifests create.
        """
        from .test_systemd import deploymentBlocks

        lines = [line for block in deploymentBlocks("console") for line in block]
        self.assertIn("docker build -f examples/kubernetes/Dockerfile -t proxykit:latest .", lines)
        self.assertIn("kubectl apply -f examples/kubernetes/", lines)
        self.assertEqual(container()["image"], "proxykit:latest")
        self.assertIn("kubectl rollout status deployment/proxykit", lines)
        self.assertIn(("Deployment", "proxykit"), manifests())
