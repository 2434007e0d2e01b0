import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labs import sandbox
from labs.observe import recorder


def pytest_configure(config):
    config.addinivalue_line("markers", "no_sandbox: a unit test of pure code; it gets no sandbox")


@pytest.fixture(autouse=True)
def fresh_sandbox(request):
    """Each test starts with an empty in-process sandbox and an empty recorder, except the
    unit tests marked ``no_sandbox`` (pure code: they never start moto)."""
    if request.node.get_closest_marker("no_sandbox"):
        yield
        return
    sandbox.start()
    sandbox.reset()
    recorder.clear()
    yield


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SharedServer:
    """``python -m labs sandbox serve`` running in a subprocess: its URL and the process (to read or stop it)."""

    def __init__(self, process: subprocess.Popen, url: str):
        self.process, self.url = process, url

    def printed_line(self, starting: str) -> str:
        """The first line the server printed that starts with ``starting`` (after stripping)."""
        for line in self.process.stdout:
            if line.strip().startswith(starting):
                return line.strip()
        raise AssertionError(f"the server never printed a line starting {starting!r}")


@pytest.fixture
def shared_server_process():
    """A shared sandbox server in a subprocess (clean of AWS_/LABS_ settings)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABS_"))}
    server = subprocess.Popen([sys.executable, "-m", "labs", "sandbox", "serve", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                              cwd=Path(__file__).resolve().parents[1])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the shared sandbox server did not start")
                time.sleep(0.1)
        yield SharedServer(server, f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def shared_server(shared_server_process):
    """The URL of a shared sandbox server running in a subprocess."""
    return shared_server_process.url
