"""Where "AWS" is. The only module of the workbook that imports moto.

Three places, chosen by environment variables before the first call:

* default: moto in this Python process. Nothing leaves the process.
* ``LABS_ENDPOINT_URL=http://127.0.0.1:PORT``: a shared sandbox server
  (``python -m labs sandbox serve``) or LocalStack, on this machine only.
* ``LABS_REAL_AWS=1``: real AWS with your own credentials. Nothing else gets there.

Every sandbox forces region ap-northeast-1 and fake credentials, so a plain
``boto3.client('sqs')`` in a notebook cell (as the course text writes it) reaches the
sandbox, even when the learner's machine holds real credentials or a profile.
"""
from __future__ import annotations

import ipaddress
import json
import os
import urllib.parse
import urllib.request
from dataclasses import dataclass

import boto3

from labs.course import aws
from labs.sandbox import mends
from labs.course.names import REGION

ACCOUNT_ID = "123456789012"  # moto's default account: never a real one

# What moto needs to behave like AWS for this course (see MOTO_FACTS.md).
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # Keep the learner's ~/.aws out of it: no profile, no config file, no credentials file.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    # botocore >= 1.44.4 sends DynamoDB Streams calls to an account-based host moto
    # does not answer; plain regional endpoints are what moto serves.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
_DROPPED_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


class SandboxRefused(RuntimeError):
    """An endpoint outside this machine was asked for without opting in to real AWS."""


@dataclass(frozen=True)
class Sandbox:
    mode: str  # "in-process" | "server" | "real-aws"
    endpoint_url: str | None
    region: str

    def describe(self) -> str:
        where = {
            "in-process": "moto (このプロセス内。ネットワークには出ません)",
            "server": f"共有サンドボックス {self.endpoint_url}",
            "real-aws": "本物の AWS (LABS_REAL_AWS=1)",
        }[self.mode]
        return f"サンドボックス: {where} / リージョン {self.region}"

    def __repr__(self) -> str:
        return self.describe()


_current: Sandbox | None = None
_mock = None
_on_reset: list = []  # what else forgets its state when the sandbox is emptied (e.g. parked retries)


def on_reset(forget) -> None:
    """Call ``forget()`` whenever reset() empties the sandbox."""
    _on_reset.append(forget)


def is_loopback(url: str) -> bool:
    host = urllib.parse.urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse(url: str) -> SandboxRefused:
    return SandboxRefused(
        f"LABS_ENDPOINT_URL={url} はこのマシンの外を指しています。"
        "本物の AWS を使う場合だけ LABS_REAL_AWS=1 を設定してください。リクエストは送信していません。\n"
        f"LABS_ENDPOINT_URL={url} points outside this machine; set LABS_REAL_AWS=1 only if you "
        "mean to use real AWS. No request was sent."
    )


def _force_fake_credentials(endpoint_url: str | None) -> None:
    for name in _DROPPED_ENV:
        os.environ.pop(name, None)
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    os.environ.update(_FAKE_ENV)
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url  # every boto3 client, the learner's too
    boto3.DEFAULT_SESSION = None  # forget a session made with the old environment


def start() -> Sandbox:
    """Start (once per process) the sandbox the environment asks for, and return it."""
    global _current, _mock
    if _current is not None:
        return _current
    endpoint = os.environ.get("LABS_ENDPOINT_URL") or None
    if os.environ.get("LABS_REAL_AWS") == "1":
        _current = Sandbox("real-aws", endpoint, os.environ.get("AWS_REGION", REGION))
        _watch_default_session()
        return _current
    if endpoint and not is_loopback(endpoint):
        raise _refuse(endpoint)
    _force_fake_credentials(endpoint)
    if endpoint:
        _current = Sandbox("server", endpoint, REGION)
    else:
        from moto import mock_aws

        mends.apply_all()
        _mock = mock_aws(config=MOTO_CONFIG)
        _mock.start()
        _current = Sandbox("in-process", None, REGION)
    _watch_default_session()
    return _current


def _watch_default_session() -> None:
    """Record every publish made through boto3's default session (the learner's too)."""
    from labs import observe

    boto3.setup_default_session(region_name=_current.region)
    observe.attach(boto3.DEFAULT_SESSION)


def current() -> Sandbox:
    return start()


def client(service: str):
    """A boto3 client on the sandbox: the same one the course's production code uses (labs.course.aws)."""
    start()
    return aws.client(service)


def resource(service: str):
    start()
    return aws.resource(service)


def reset() -> None:
    """Empty the sandbox: every queue, topic, bus, table and state machine is gone."""
    box = start()
    if box.mode == "in-process":
        _mock.reset()  # config (Step Functions execution) stays as started
    elif box.mode == "server":
        _post(box.endpoint_url, "/moto-api/reset", None)
        _post(box.endpoint_url, "/moto-api/config", MOTO_CONFIG)
    else:
        raise SandboxRefused("本物の AWS はリセットできません / refusing to reset real AWS")
    for forget in _on_reset:
        forget()


def _post(endpoint: str, path: str, body: dict | None) -> None:
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(endpoint.rstrip("/") + path, data=data, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def serve(port: int = 5000) -> None:
    """Run a shared sandbox on 127.0.0.1:PORT until Ctrl-C (``python -m labs sandbox serve``)."""
    import threading

    from moto.server import ThreadedMotoServer

    os.environ["MOTO_PORT"] = str(port)  # Step Functions tasks call back into this server
    mends.apply_all()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{server._server.server_port}"
    _post(url, "/moto-api/config", MOTO_CONFIG)
    print(f"共有サンドボックスを起動しました: {url}")
    print(f"  ノートブック / スクリプト: export LABS_ENDPOINT_URL={url}")
    print(f"  AWS CLI: aws --endpoint-url {url} --region {REGION} sqs list-queues")
    print("  停止: Ctrl-C", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
