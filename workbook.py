"""The workbook's two commands, with nothing but Python (no make, so Windows works without WSL):

    python workbook.py lab     # create .venv, install the pinned packages, start JupyterLab
    python workbook.py test    # the same, then run every test (what `make test` runs)

`make lab` / `make test` call this file. Other commands: ``install`` (only create or refresh
.venv), ``test unit|check-sync|nbval`` (one part of the tests). ``--dry-run`` prints the
commands instead of running them. Standard library only: this runs before .venv exists.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent
MINIMUM_PYTHON = (3, 11)
# Tests run in parallel on up to 4 cores (pytest-xdist); a notebook's cells stay in one worker, in order.
PARALLEL = ["--numprocesses", "auto", "--maxprocesses", "4"]
NBVAL = ["-m", "pytest", "-q", *PARALLEL, "--dist", "loadscope", "--nbval", "--nbval-sanitize-with", "tests/sanitize.cfg", "--nbval-cell-timeout", "300"]
# The install's inputs: when one changes, the next run reinstalls (make compares their times, this their content).
INSTALL_INPUTS = ("pyproject.toml", "constraints.txt", "workbook.py", "jupyter-config/overrides.d/event-driven-workbook.json")
LAB_SETTINGS = Path("share", "jupyter", "lab", "settings", "overrides.d", "event-driven-workbook.json")


class Runner:
    """Runs commands from the repository root, or only prints them (``--dry-run``)."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run

    def run(self, *command, env: dict | None = None, quiet: bool = False, check: bool = True) -> None:
        shown = " ".join(shlex.quote(str(part)) for part in command)
        extra = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        print(f"$ {extra + ' ' if extra else ''}{shown}", flush=True)
        if self.dry_run:
            return
        done = subprocess.run([str(part) for part in command], cwd=ROOT, env={**os.environ, **(env or {})},
                              stdout=subprocess.DEVNULL if quiet else None)
        if done.returncode and check:
            raise SystemExit(done.returncode)

    def copy(self, source: Path, target: Path) -> None:
        print(f"$ copy {source.relative_to(ROOT)} -> {target}", flush=True)
        if not self.dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)

    def remove(self, folder: Path) -> None:
        print(f"$ rm -rf {folder}", flush=True)
        if not self.dry_run:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def install_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in INSTALL_INPUTS:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def install(venv: Path, runner: Runner) -> None:
    """Create ``venv`` if missing; install the pinned packages and this project (editable, with
    the test extras); make Japanese JupyterLab's default; register the kernel."""
    if sys.version_info < MINIMUM_PYTHON:
        raise SystemExit(f"Python {'.'.join(map(str, MINIMUM_PYTHON))} or newer is required (this is {sys.version.split()[0]})")
    python = venv_python(venv)
    if not python.exists():
        runner.run(sys.executable, "-m", "venv", venv)
    runner.run(python, "-m", "pip", "install", "-q", "--upgrade", "pip")
    runner.run(python, "-m", "pip", "install", "-q", "-c", "constraints.txt", "-e", ".[test]")
    # An editable install does not install pyproject's data-files; the settings override is copied here.
    runner.copy(ROOT / INSTALL_INPUTS[-1], venv / LAB_SETTINGS)
    runner.run(python, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3",
               "--display-name", "Python 3 (workbook)", quiet=True)
    if not runner.dry_run:
        (venv / ".installed").write_text(install_fingerprint() + "\n", encoding="utf-8")


def ensure_installed(venv: Path, runner: Runner) -> None:
    stamp = venv / ".installed"
    fresh = stamp.exists() and stamp.read_text(encoding="utf-8").strip() == install_fingerprint()
    if not fresh or not venv_python(venv).exists():
        install(venv, runner)


# --- lab -------------------------------------------------------------------------------------------

def lab_command(python: Path, port: int, token: str) -> list:
    command = [python, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={ROOT / 'notebooks'}", "--ServerApp.log_level=WARN"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI run as root
    return command


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def wait_until_answering(url: str, token: str, server: subprocess.Popen, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(request, timeout=2).close()
            return True
        except OSError:
            time.sleep(0.3)
    return False


def lab(venv: Path, port: int, runner: Runner) -> int:
    python = venv_python(venv)
    runner.run(python, "-m", "labs", "doctor", check=False)  # [FAIL] lines explain a broken setup; start anyway
    token = secrets.token_hex(24)  # a new one each run: the link below is the only way in
    command = lab_command(python, port, token)
    url = f"http://127.0.0.1:{port}"
    if runner.dry_run:
        runner.run(*command)
        return 0
    if not port_is_free(port):
        print(f"ポート {port} は使用中です。別のポートで: make lab PORT={port + 1}  /  python workbook.py lab --port {port + 1}")
        return 1
    server = subprocess.Popen([str(part) for part in command], cwd=ROOT)
    try:
        if not wait_until_answering(url, token, server):
            print("JupyterLab が起動しませんでした。上のメッセージを確認してください。")
            return server.wait() or 1
        rule = "=" * 72
        print(f"\n{rule}\n JupyterLab が起動しました。ブラウザでこのリンクを開いてください:\n\n"
              f"   {url}/lab/tree/00_introduction.ipynb?token={token}\n\n (止めるには Ctrl-C)\n{rule}", flush=True)
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        server.wait(timeout=30)
        return 0


# --- test --------------------------------------------------------------------------------------------

TEST_STEPS = ("unit", "check-sync", "nbval")


def test(venv: Path, steps: list[str], runner: Runner) -> None:
    python = venv_python(venv)
    for step in steps:
        if step == "unit":
            runner.run(python, "-m", "pytest", "-q", *PARALLEL, "tests")
        elif step == "check-sync":
            runner.run(python, "-m", "labs.workbook", "generate", "--check")
        elif step == "nbval":  # strict on solutions, lax on learner notebooks, then both directions of the checks
            checks = ROOT / "build" / "checks"
            runner.remove(checks)
            runner.run(python, *NBVAL, "solutions", env={"LABS_CHECK_REPORT": str(checks / "solutions.jsonl")})
            runner.run(python, *NBVAL, "--nbval-lax", "notebooks", env={"LABS_CHECK_REPORT": str(checks / "notebooks.jsonl")})
            runner.run(python, "-m", "labs.workbook", "verify-checks", checks / "solutions.jsonl", checks / "notebooks.jsonl")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python workbook.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="the virtual environment (default: .venv)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("lab", help="install if needed, then start JupyterLab")
    start.add_argument("--port", type=int, default=8888)
    checks = sub.add_parser("test", help="install if needed, then run the tests")
    checks.add_argument("steps", nargs="*", metavar="STEP",
                        help=f"only these parts: {', '.join(TEST_STEPS)} (default: all, in this order)")
    sub.add_parser("install", help="create or refresh the virtual environment")
    args = parser.parse_args(argv)
    unknown = [step for step in getattr(args, "steps", []) if step not in TEST_STEPS]
    if unknown:
        parser.error(f"unknown test step {', '.join(unknown)} (choose from {', '.join(TEST_STEPS)})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    runner = Runner(args.dry_run)
    venv = args.venv.resolve()
    if args.command == "install":
        install(venv, runner)
        return 0
    ensure_installed(venv, runner)
    if args.command == "lab":
        return lab(venv, args.port, runner)
    test(venv, args.steps or list(TEST_STEPS), runner)
    return 0


if __name__ == "__main__":
    sys.exit(main())
