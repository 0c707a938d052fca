"""The origin servers and the proxies under test, and how to start them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .procs import Proc, ProcessManager, StartError, free_port, wait_for_port

BENCH_DIR = Path(__file__).resolve().parent.parent
KIB = 1024
MIB = 1024 * KIB

# Static files served by nginx: name -> size in bytes.
SIZES: dict[str, int] = {"small": 100, "100k": 100 * KIB}
SLOW_FILE = "64m"


def pinned(cpu: str | None, argv: list[str]) -> list[str]:
    """Prefix ``argv`` with ``taskset -c CPU`` unless pinning is disabled."""
    return ["taskset", "-c", cpu, *argv] if cpu else argv


def fill_template(name: str, values: dict[str, str]) -> str:
    text = (BENCH_DIR / name).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def file_body(size: int) -> bytes:
    """Deterministic printable content ending in a newline."""
    line = b"proxykit benchmark payload 0123456789abcdefghijklmnopqrstuvwxyz\n"
    body = (line * (size // len(line) + 1))[: size - 1]
    return body + b"\n"


@dataclass
class Origin:
    """nginx serving the static files."""

    port: int
    proc: Proc
    files: dict[str, int]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def write_docroot(docroot: Path, slow_size: int) -> dict[str, int]:
    files = {**SIZES, SLOW_FILE: slow_size}
    docroot.mkdir(parents=True, exist_ok=True)
    for name, size in files.items():
        (docroot / name).write_bytes(file_body(size))
    return files


def start_nginx(
    pm: ProcessManager, tmp: Path, cpu: str | None, slow_size: int
) -> Origin:
    files = write_docroot(tmp / "docroot", slow_size)
    port = free_port()
    conf = tmp / "nginx.conf"
    values = {"TMP": str(tmp), "PORT": str(port), "DOCROOT": str(tmp / "docroot")}
    conf.write_text(fill_template("nginx.conf", values))
    argv = [
        "nginx",
        "-p",
        str(tmp),
        "-c",
        str(conf),
        "-e",
        str(tmp / "nginx-error.log"),
    ]
    proc = pm.start("nginx", pinned(cpu, argv))
    wait_for_port(proc, port)
    return Origin(port, proc, files)


def start_tunnel_origin(
    pm: ProcessManager, nbytes: int, cpu: str | None
) -> tuple[Proc, int]:
    port = free_port()
    argv = [sys.executable, str(BENCH_DIR / "tunnel_origin.py"), str(port), str(nbytes)]
    proc = pm.start("tunnel-origin", pinned(cpu, argv))
    wait_for_port(proc, port)
    return proc, port


@dataclass
class Settings:
    """What the proxy command lines depend on."""

    venv: Path
    tmp: Path
    connect_port: int
    proxy_cpu: str | None
    proxykit_reactor: str | None = None
    proxykit_args: list[str] = field(default_factory=list)

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


ArgvBuilder = Callable[[Settings, int], list[str]]


@dataclass(frozen=True)
class ProxySpec:
    """One proxy under test; ``build`` is None for the no-proxy baseline."""

    name: str
    build: ArgvBuilder | None
    supports_connect: bool
    notes: str


def proxykit_argv(s: Settings, port: int) -> list[str]:
    reactor = ["-r", s.proxykit_reactor] if s.proxykit_reactor else []
    return [
        s.bin("twistd"), "-n", "--pidfile=", *reactor,
        "proxykit", "forward",
        "--listen", f"tcp:{port}:interface=127.0.0.1",
        "--connect-port", str(s.connect_port),
        *s.proxykit_args,
    ]  # fmt: skip


def twisted_argv(s: Settings, port: int) -> list[str]:
    return [s.bin("python"), str(BENCH_DIR / "twisted_web_proxy.py"), str(port)]


PROXYPY_FLAGS = ["--num-workers", "1", "--num-acceptors", "1", "--log-level", "WARNING"]


def proxypy_argv(s: Settings, port: int) -> list[str]:
    data_dir = s.tmp / "proxypy-data"
    return [
        s.bin("proxy"), "--hostname", "127.0.0.1", "--port", str(port),
        *PROXYPY_FLAGS, "--data-dir", str(data_dir),
    ]  # fmt: skip


def tinyproxy_argv(s: Settings, port: int) -> list[str]:
    conf = s.tmp / f"tinyproxy-{port}.conf"
    values = {"TMP": str(s.tmp), "PORT": str(port), "CONNECT_PORT": str(s.connect_port)}
    conf.write_text(fill_template("tinyproxy.conf", values))
    return ["tinyproxy", "-d", "-c", str(conf)]


PROXIES: list[ProxySpec] = [
    ProxySpec(
        "proxykit",
        proxykit_argv,
        True,
        "twistd -n --pidfile= proxykit forward --listen tcp:PORT:interface=127.0.0.1"
        " --connect-port TUNNELPORT (default reactor unless --proxykit-reactor)",
    ),
    ProxySpec(
        "twisted.web.proxy",
        twisted_argv,
        False,
        "bench/twisted_web_proxy.py: HTTPFactory(protocol=twisted.web.proxy.Proxy),"
        " default reactor, access log off, ProxyClientFactory.noisy=False",
    ),
    ProxySpec(
        "proxy.py",
        proxypy_argv,
        True,
        "proxy --hostname 127.0.0.1 --port PORT "
        + " ".join(PROXYPY_FLAGS)
        + " --data-dir TMP (default plugins: HttpProxyPlugin only; threadless)",
    ),
    ProxySpec(
        "tinyproxy",
        tinyproxy_argv,
        True,
        "tinyproxy -d -c bench/tinyproxy.conf (one thread per client connection,"
        " MaxClients 512, LogLevel Critical, ConnectPort TUNNELPORT)",
    ),
    ProxySpec("none", None, True, "wrk straight at nginx (upper bound)"),
]
PROXY_NAMES = [spec.name for spec in PROXIES]


@dataclass
class RunningProxy:
    """A started proxy (or the baseline, which has no process)."""

    spec: ProxySpec
    port: int
    proc: Proc | None
    startup_s: float = 0.0


def start_proxy(
    pm: ProcessManager, spec: ProxySpec, settings: Settings, origin: Origin
) -> RunningProxy:
    """Start ``spec`` pinned to the proxy CPU and wait until it listens.

    Raises procs.StartError when it does not come up.
    """
    if spec.build is None:
        return RunningProxy(spec, origin.port, None)
    port = free_port()
    argv = pinned(settings.proxy_cpu, spec.build(settings, port))
    proc = pm.start(spec.name, argv, cwd=settings.tmp)
    try:
        waited = wait_for_port(proc, port, timeout=20.0)
    except StartError as exc:
        pm.stop(proc)
        raise StartError(f"{exc}\n{proc.log_tail()}".strip()) from None
    return RunningProxy(spec, port, proc, waited)
