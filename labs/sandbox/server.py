"""moto over HTTP on 127.0.0.1: the shared sandbox server, and the kernel's own sandbox served to its subprocesses.

``serve()`` is ``python -m labs sandbox serve``: one moto for several notebooks, a terminal and
the AWS CLI. ``serve_in_process()`` answers, on an ephemeral loopback port, from the very
backends the in-process sandbox uses, so ``!aws sqs list-queues`` or ``!python script.py`` in
a cell sees the notebook's queues instead of trying to reach AWS.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import urllib.request

from labs.course.names import REGION

# What moto needs to behave like AWS for this course (see docs/MOTO_GAPS.md).
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback never goes through a proxy


def _moto_server(port: int):
    """A moto server thread on 127.0.0.1:PORT (0: any free port); returns it and its URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in a cell's output
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    return server, f"http://{host}:{bound}"


def serve_in_process() -> str | None:
    """Serve this process's sandbox on a free loopback port; its URL, or None if no port could be had."""
    try:
        _, url = _moto_server(0)
    except OSError:
        return None
    return url


def post(endpoint_url: str, path: str, body: dict | None) -> None:
    """POST to moto's own API (``/moto-api/...``) on an endpoint already checked to be loopback."""
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(endpoint_url.rstrip("/") + path, data=data, method="POST")
    with _NO_PROXY.open(request, timeout=10) as response:
        response.read()


def cli_command(url: str) -> str:
    """The AWS CLI line that works as shown, even on a machine with no AWS configuration."""
    return (f"AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
            f"aws --endpoint-url {url} --region {REGION} sqs list-queues")


def serve(port: int = 5000) -> None:
    """Run a shared sandbox on 127.0.0.1:PORT until Ctrl-C (``python -m labs sandbox serve``)."""
    from labs.sandbox import mends

    os.environ["MOTO_PORT"] = str(port)  # Step Functions tasks call back into this server
    mends.apply_all()
    server, url = _moto_server(port)
    post(url, "/moto-api/config", MOTO_CONFIG)
    print(f"共有サンドボックスを起動しました: {url}")
    print(f"  ノートブック / スクリプト: export LABS_ENDPOINT_URL={url}")
    print(f"  AWS CLI: {cli_command(url)}")
    print("  停止: Ctrl-C (止めると中身は消えます。もう一度 python -m labs sandbox serve で空から起動します)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
