"""The origin servers and the proxies under test, and how to start them."""

from __future__ import annotations

import os
import subprocess
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

# The modes measured, and the Host header every reverse proxy routes on.
# "tls" is reverse mode with the client side over TLS (https to the proxy,
# plain HTTP to the origin).
MODES = ("forward", "reverse", "tls")
BASELINE = "baseline"
REVERSE_HOST = "bench.test"
TLS_MODE = "tls"


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
    origin_port: int = 0
    proxykit_reverse_args: list[str] = field(default_factory=list)
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    @property
    def origin_url(self) -> str:
        return f"http://127.0.0.1:{self.origin_port}"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed P-256 certificate for REVERSE_HOST (2 days),
    made with the openssl command; returns (cert, key) paths."""
    cert, key = directory / "bench-cert.pem", directory / "bench-key.pem"
    argv = [
        "openssl", "req", "-x509", "-newkey", "ec",
        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
        "-subj", f"/CN={REVERSE_HOST}",
        "-addext", f"subjectAltName=DNS:{REVERSE_HOST}",
        "-keyout", str(key), "-out", str(cert),
    ]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StartError(f"openssl req failed: {exc}") from None
    if done.returncode != 0 or not cert.exists() or not key.exists():
        raise StartError(f"openssl req failed (rc={done.returncode}): {done.stderr}")
    return cert, key


ArgvBuilder = Callable[[Settings, int], list[str]]
EnvBuilder = Callable[[Settings], dict[str, str]]


@dataclass(frozen=True)
class ProxySpec:
    """One proxy under test; ``build`` is None for the no-proxy baseline.

    ``mode`` is "forward" (the client sends absolute-form requests), "reverse"
    (origin-form with ``Host: bench.test``) or "baseline" (no proxy: wrk
    straight at the origin, shared by both modes).  Peers with
    ``default=False`` run only when named in ``--proxies``.
    """

    name: str
    build: ArgvBuilder | None
    supports_connect: bool
    notes: str
    mode: str = "forward"
    env: EnvBuilder | None = None
    default: bool = True


def twistd_prefix(s: Settings) -> list[str]:
    reactor = ["-r", s.proxykit_reactor] if s.proxykit_reactor else []
    return [s.bin("twistd"), "-n", "--pidfile=", *reactor, "proxykit"]


def proxykit_argv(s: Settings, port: int) -> list[str]:
    return [
        *twistd_prefix(s), "forward",
        "--listen", f"tcp:{port}:interface=127.0.0.1",
        "--connect-port", str(s.connect_port),
        *s.proxykit_args,
    ]  # fmt: skip


def proxykit_accesslog_argv(s: Settings, port: int) -> list[str]:
    """proxykit forward as above, writing the access log (combined) to a file."""
    return [
        *proxykit_argv(s, port), "--access-log", str(s.tmp / f"access-{port}.log"),
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


def proxykit_reverse_argv(s: Settings, port: int) -> list[str]:
    return [
        *twistd_prefix(s), "reverse",
        "--listen", f"tcp:{port}:interface=127.0.0.1",
        "--route", f"{REVERSE_HOST}={s.origin_url}",
        *s.proxykit_reverse_args,
    ]  # fmt: skip


def twisted_reverse_argv(s: Settings, port: int) -> list[str]:
    script = str(BENCH_DIR / "twisted_reverse_proxy.py")
    return [s.bin("python"), script, str(port), str(s.origin_port)]


def proxykit_web_argv(s: Settings, port: int) -> list[str]:
    script = str(BENCH_DIR / "proxykit_web_proxy.py")
    return [s.bin("python"), script, str(port), str(s.origin_port)]


# proxy.py's reverse proxy takes its routes from a plugin (bench/
# proxypy_reverse.py).  Its default "threadless" worker crashes on the second
# request of a keep-alive connection (see proxypy_reverse.py), so the measured
# configuration runs it --threaded; "proxy.py-threadless" (not run by
# default) shows the failure.
PROXYPY_REVERSE_FLAGS = [
    "--enable-reverse-proxy", "--rewrite-host-header", "--disable-http-proxy",
    "--plugins", "proxypy_reverse.BenchReverseProxy",
]  # fmt: skip


def proxypy_reverse_argv(s: Settings, port: int, threaded: bool = True) -> list[str]:
    return [
        *proxypy_argv(s, port), *PROXYPY_REVERSE_FLAGS,
        "--bench-origin", s.origin_url, *(["--threaded"] if threaded else []),
    ]  # fmt: skip


def proxypy_threadless_argv(s: Settings, port: int) -> list[str]:
    return proxypy_reverse_argv(s, port, threaded=False)


def bench_on_pythonpath(s: Settings) -> dict[str, str]:
    """The environment with bench/ importable (for the proxy.py plugin)."""
    return {**os.environ, "PYTHONPATH": str(BENCH_DIR)}


def pure_proxykit(s: Settings) -> dict[str, str]:
    """The environment in which twistd imports the checkout's proxykit/,
    which never holds compiled modules: the pure-Python build, beside
    bench/.venv's own (compiled unless PROXYKIT_COMPILE=0 at setup)."""
    return {**os.environ, "PYTHONPATH": str(BENCH_DIR.parent)}


def nginx_reverse_argv(s: Settings, port: int, tls: bool = False) -> list[str]:
    directory = s.tmp / f"nginx-reverse-{port}"
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    values = {
        "DIR": str(directory),
        "PORT": str(port),
        "ORIGIN_PORT": str(s.origin_port),
        "CERT": str(s.tls_cert),
        "KEY": str(s.tls_key),
    }
    template = "nginx-reverse-tls.conf" if tls else "nginx-reverse.conf"
    conf.write_text(fill_template(template, values))
    error_log = str(directory / "error.log")
    return ["nginx", "-p", str(directory), "-c", str(conf), "-e", error_log]


def proxykit_tls_config(s: Settings, port: int) -> Path:
    """The TOML configuration of proxykit reverse over TLS only."""
    conf = s.tmp / f"proxykit-tls-{port}.toml"
    conf.write_text(
        "listen = []\n\n"
        "[tls]\n"
        f'listen = ["tcp:{port}:interface=127.0.0.1"]\n'
        f'default_certificate = {{ cert = "{s.tls_cert}", key = "{s.tls_key}" }}\n\n'
        "[[reverse.vhost]]\n"
        f'hosts = ["{REVERSE_HOST}"]\n\n'
        "  [[reverse.vhost.route]]\n"
        f'  origins = ["{s.origin_url}"]\n'
    )
    return conf


def proxykit_tls_argv(s: Settings, port: int) -> list[str]:
    return [
        *twistd_prefix(s), "reverse", "--config", str(proxykit_tls_config(s, port)),
        *s.proxykit_reverse_args,
    ]  # fmt: skip


def twisted_reverse_tls_argv(s: Settings, port: int) -> list[str]:
    return [*twisted_reverse_argv(s, port), str(s.tls_cert), str(s.tls_key)]


def nginx_reverse_tls_argv(s: Settings, port: int) -> list[str]:
    return nginx_reverse_argv(s, port, tls=True)


PROXIES: list[ProxySpec] = [
    ProxySpec(
        "proxykit",
        proxykit_argv,
        True,
        "twistd -n --pidfile= proxykit forward --listen tcp:PORT:interface=127.0.0.1"
        " --connect-port TUNNELPORT (proxykit.reactor.ProxyReactor unless --proxykit-reactor)",
    ),
    ProxySpec(
        "proxykit-pure",
        proxykit_argv,
        True,
        "as proxykit, with PYTHONPATH=the checkout: the pure-Python build, where"
        " proxykit is bench/.venv's (the compiled build unless PROXYKIT_COMPILE=0"
        " at setup; the run's proxykit_build says which); run when named in --proxies",
        env=pure_proxykit,
        default=False,
    ),
    ProxySpec(
        "proxykit+accesslog",
        proxykit_accesslog_argv,
        True,
        "as proxykit, with --access-log TMP/access-PORT.log (Combined Log Format;"
        " the lines of each 0.1 s written together): what the access log costs",
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
    ProxySpec(
        "proxykit",
        proxykit_reverse_argv,
        False,
        "twistd -n --pidfile= proxykit reverse --listen tcp:PORT:interface=127.0.0.1"
        f" --route {REVERSE_HOST}=http://127.0.0.1:ORIGINPORT"
        " (proxykit.reactor.ProxyReactor unless --proxykit-reactor)",
        mode="reverse",
    ),
    ProxySpec(
        "proxykit-pure",
        proxykit_reverse_argv,
        False,
        "as proxykit (reverse), with PYTHONPATH=the checkout: the pure-Python"
        " build (see forward mode's proxykit-pure); run when named in --proxies",
        mode="reverse",
        env=pure_proxykit,
        default=False,
    ),
    ProxySpec(
        "ReverseProxyResource",
        twisted_reverse_argv,
        False,
        "bench/twisted_reverse_proxy.py: Site(ReverseProxyResource('127.0.0.1',"
        " ORIGINPORT, b'')), default reactor, access log off,"
        " ProxyClientFactory.noisy=False",
        mode="reverse",
    ),
    ProxySpec(
        "proxykit.web",
        proxykit_web_argv,
        False,
        "bench/proxykit_web_proxy.py: Site(proxykit.web.ReverseProxyResource('127.0.0.1',"
        " ORIGINPORT, b'')), default reactor, access log off: the ReverseProxyResource"
        " script with one import changed",
        mode="reverse",
    ),
    ProxySpec(
        "proxy.py",
        proxypy_reverse_argv,
        False,
        "PYTHONPATH=bench proxy --hostname 127.0.0.1 --port PORT "
        + " ".join(PROXYPY_FLAGS)
        + " --data-dir TMP "
        + " ".join(PROXYPY_REVERSE_FLAGS)
        + " --bench-origin http://127.0.0.1:ORIGINPORT --threaded"
        " (one acceptor process, one thread per client connection)",
        mode="reverse",
        env=bench_on_pythonpath,
    ),
    ProxySpec(
        "proxy.py-threadless",
        proxypy_threadless_argv,
        False,
        "as proxy.py (reverse) without --threaded: proxy.py's default worker;"
        " not run unless named in --proxies",
        mode="reverse",
        env=bench_on_pythonpath,
        default=False,
    ),
    ProxySpec(
        "nginx",
        nginx_reverse_argv,
        False,
        "nginx -c bench/nginx-reverse.conf: one process (master_process off),"
        " access_log off, upstream keepalive 64, proxy_http_version 1.1,"
        ' proxy_set_header Connection ""',
        mode="reverse",
    ),
    ProxySpec(
        "proxykit",
        proxykit_tls_argv,
        False,
        "twistd -n --pidfile= proxykit reverse --config TMP/proxykit-tls-PORT.toml:"
        ' listen = []; [tls] listen = ["tcp:PORT:interface=127.0.0.1"],'
        " default_certificate = the run's self-signed P-256 certificate;"
        f' one [[reverse.vhost]] hosts = ["{REVERSE_HOST}"] with one route,'
        ' origins = ["http://127.0.0.1:ORIGINPORT"]',
        mode=TLS_MODE,
    ),
    ProxySpec(
        "ReverseProxyResource",
        twisted_reverse_tls_argv,
        False,
        "bench/twisted_reverse_proxy.py PORT ORIGINPORT CERT KEY: as in reverse"
        " mode, on reactor.listenSSL with DefaultOpenSSLContextFactory(KEY, CERT)",
        mode=TLS_MODE,
    ),
    ProxySpec(
        "nginx",
        nginx_reverse_tls_argv,
        False,
        "nginx -c bench/nginx-reverse-tls.conf: as nginx-reverse.conf, with"
        " listen PORT ssl, ssl_protocols TLSv1.2 TLSv1.3, the run's certificate",
        mode=TLS_MODE,
    ),
    ProxySpec(
        "none",
        None,
        True,
        "wrk straight at nginx (upper bound, shared by both modes)",
        mode=BASELINE,
    ),
]
PROXY_NAMES = list(dict.fromkeys(spec.name for spec in PROXIES))
DEFAULT_NAMES = list(dict.fromkeys(spec.name for spec in PROXIES if spec.default))


def specs_for(mode: str, names: list[str]) -> list[ProxySpec]:
    """The peers of ``mode`` named in ``names``, in table order."""
    return [s for s in PROXIES if s.mode == mode and s.name in names]


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
    env = spec.env(settings) if spec.env else None
    proc = pm.start(f"{spec.mode}-{spec.name}", argv, cwd=settings.tmp, env=env)
    try:
        waited = wait_for_port(proc, port, timeout=20.0)
    except StartError as exc:
        pm.stop(proc)
        raise StartError(f"{exc}\n{proc.log_tail()}".strip()) from None
    return RunningProxy(spec, port, proc, waited)
