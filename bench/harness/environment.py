"""Installs what the benchmark needs (Debian packages, bench/.venv) and
records tool versions."""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import venv
from pathlib import Path

APT_PACKAGES = ("nginx-light", "tinyproxy", "wrk")
VENV_PACKAGES = ("twisted", "proxy.py")
PIP_QUIET = ("-q", "--disable-pip-version-check", "--no-input")


class SetupError(RuntimeError):
    """A required tool could not be installed."""


def log(message: str) -> None:
    print(f"[setup] {message}", flush=True)


def missing_debs(packages: tuple[str, ...]) -> list[str]:
    missing = []
    for pkg in packages:
        probe = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg],
            capture_output=True,
            text=True,
        )
        if "install ok installed" not in probe.stdout:
            missing.append(pkg)
    return missing


def as_root(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return argv
    if shutil.which("sudo"):
        return ["sudo", *argv]
    raise SetupError(f"need root to run: {' '.join(argv)}")


def ensure_debs(packages: tuple[str, ...] = APT_PACKAGES) -> None:
    missing = missing_debs(packages)
    if not missing:
        return
    log(f"apt-get install -y {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", *missing]):
        done = subprocess.run(as_root(argv), env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SetupError(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")


def pip(
    venv_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    python = venv_dir / "bin" / "python"
    return subprocess.run(
        [str(python), "-m", "pip", *PIP_QUIET, *args],
        capture_output=True,
        text=True,
        env=env,
    )


def proxykit_build(venv_dir: Path) -> str:
    """Which build of proxykit the venv has: "compiled", "pure Python" or
    "not installed" (asked from outside the checkout)."""
    python = str(venv_dir.resolve() / "bin" / "python")
    code = "import proxykit; print('compiled' if proxykit.COMPILED else 'pure Python')"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    try:
        done = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, cwd="/", env=env, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return done.stdout.strip() if done.returncode == 0 else "not installed"


def ensure_venv(venv_dir: Path, repo_root: Path) -> str | None:
    """Create bench/.venv with the peers and proxykit.

    Returns an error message if proxykit itself did not install (the
    benchmark then reports proxykit as failed to start), raises SetupError
    if the peers did not install.
    """
    if not (venv_dir / "bin" / "python").exists():
        if importlib.util.find_spec("ensurepip") is None:
            ensure_debs(("python3-venv",))  # Debian splits ensurepip out
        log(f"creating {venv_dir}")
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    done = pip(venv_dir, "install", *VENV_PACKAGES)
    if done.returncode != 0:
        raise SetupError(f"pip install {' '.join(VENV_PACKAGES)}:\n{done.stderr}")
    # pip always rebuilds and reinstalls a local directory, so this picks up
    # the current state of the work tree on every run.
    # The compiled build, as ./dev.sh makes it, unless PROXYKIT_COMPILE=0
    # (the proxykit-pure peer runs the checkout's pure Python beside it).
    compile = "0" if os.environ.get("PROXYKIT_COMPILE") == "0" else "1"
    log(f"PROXYKIT_COMPILE={compile} pip install {repo_root} (proxykit)")
    done = pip(venv_dir, "install", str(repo_root), env={**os.environ, "PROXYKIT_COMPILE": compile})
    if done.returncode != 0:
        # Never benchmark a stale proxykit left over from an earlier run.
        pip(venv_dir, "uninstall", "-y", "proxykit")
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        return f"pip install of proxykit failed:\n{tail}"
    return None


def first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    out = (done.stdout + done.stderr).strip().splitlines()
    return out[0].strip() if out else "unknown"


def venv_versions(venv_dir: Path) -> dict[str, str]:
    code = (
        "import importlib.metadata as m\n"
        "for d in ('twisted', 'proxy.py', 'proxykit'):\n"
        "    try: print(d, m.version(d))\n"
        "    except m.PackageNotFoundError: print(d, 'not-installed')\n"
    )
    python = str(venv_dir / "bin" / "python")
    done = subprocess.run([python, "-c", code], capture_output=True, text=True)
    pairs = (line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    return {name: version for name, version in pairs}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(venv_dir: Path) -> dict[str, object]:
    return {
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "os": first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "harness_python": sys.version.split()[0],
        "venv_python": first_line([str(venv_dir / "bin" / "python"), "--version"]),
        "mem_total": first_line(["sh", "-c", "grep MemTotal /proc/meminfo"]),
        "versions": {
            "nginx": first_line(["nginx", "-v"]),
            "tinyproxy": first_line(["tinyproxy", "-v"]),
            "wrk": first_line(["wrk", "-v"]),
            **venv_versions(venv_dir),
        },
    }


def git_revision(repo_root: Path) -> str:
    """The commit proxykit was installed from, and whether the tree was dirty."""
    head = first_line(["git", "-C", str(repo_root), "rev-parse", "--short", "HEAD"])
    if not head or "fatal" in head or "unavailable" in head:
        head = "no commit"
    dirty = subprocess.run(
        ["git", "-C", str(repo_root), "status", "--porcelain", "--", "proxykit"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{head}{' + uncommitted changes' if dirty else ''}"
