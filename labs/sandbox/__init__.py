"""Where "AWS" is. The only package of the workbook that imports moto.

Three places, chosen by environment variables before ``start()``:

* default: moto in this Python process. Nothing leaves the machine: the kernel's clients are
  answered in the process, and the processes it starts (``!aws``, ``!python``) reach the same
  sandbox on a loopback port.
* ``LABS_ENDPOINT_URL=http://127.0.0.1:PORT``: a shared sandbox server
  (``python -m labs sandbox serve``) or LocalStack, on this machine only.
* ``LABS_REAL_AWS=1``: real AWS with your own credentials. Nothing else gets there.

In the first two, ``start()`` installs the network guard (``guard.py``): from then on every AWS
request of this process and of the Python processes it starts, from any client made at any
time, goes to the sandbox or to loopback, or is refused before it is sent.

Modules: ``guard`` (the check at the send), ``environment`` (fake credentials; what subprocesses
inherit), ``server`` (moto over HTTP), ``calls`` (every call, told to listeners such as
``labs.observe``), ``owned`` (what a notebook made on a shared server), ``provision``, ``mends``, ``clock``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import boto3

from labs.course import aws
from labs.course.names import REGION
from labs.sandbox import calls, environment, guard, mends, server
from labs.sandbox.guard import SandboxRefused, SandboxUnavailable
from labs.sandbox.owned import Owned
from labs.sandbox.server import MOTO_CONFIG, serve

ACCOUNT_ID = "123456789012"  # moto's default account: never a real one

__all__ = ["ACCOUNT_ID", "MOTO_CONFIG", "REGION", "Sandbox", "SandboxNotStarted", "SandboxRefused",
           "SandboxUnavailable", "client", "current", "on_call", "on_reset", "reset", "resource", "serve", "start"]


class SandboxNotStarted(RuntimeError):
    """Asked where the sandbox is before ``sandbox.start()``."""


@dataclass(frozen=True)
class Sandbox:
    mode: str  # "in-process" | "server" | "real-aws"
    endpoint_url: str | None  # the server's URL; in-process, where subprocesses reach it (or None)
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
_owned = Owned()  # on a shared server: what this process created, for a reset that spares the others


def on_reset(forget) -> None:
    """Call ``forget()`` whenever reset() empties the sandbox."""
    _on_reset.append(forget)


def on_call(name: str, after=None, *, before=None) -> None:
    """Call ``after(service, operation, params, response)`` after every AWS call of this process,
    whatever client makes it, and ``before(service, operation, params)`` before it (it may refuse by raising)."""
    calls.listen(name, after, before=before)


def start() -> Sandbox:
    """Start (once per process) the sandbox the environment asks for, and return it."""
    global _current, _mock
    if _current is not None:
        return _current
    configured = os.environ.get("LABS_ENDPOINT_URL") or None
    if os.environ.get("LABS_REAL_AWS") == "1":
        _current = Sandbox("real-aws", configured, os.environ.get("AWS_REGION", REGION))
    else:
        endpoint = guard.loopback(configured).url if configured else None  # parsed once, used as checked
        environment.use_fake_credentials(endpoint)
        if endpoint:
            _current = Sandbox("server", endpoint, REGION)
            calls.listen("labs.sandbox.owned", _owned.hear)
        else:
            from moto import mock_aws

            mends.apply_all()
            _mock = mock_aws(config=MOTO_CONFIG)
            _mock.start()
            _current = Sandbox("in-process", server.serve_in_process(), REGION)
        guard.install(_current.mode, _current.endpoint_url)
        environment.guard_subprocesses(_current.mode, _current.endpoint_url)
    # Clients and sessions made before this point were made for another place: forget them.
    aws.forget_clients()
    boto3.DEFAULT_SESSION = None
    return _current


def current() -> Sandbox:
    """The sandbox ``start()`` started (this only looks; it never starts one)."""
    if _current is None:
        raise SandboxNotStarted("サンドボックスはまだ起動していません。先に sandbox.start() を実行してください。\n"
                                "The sandbox has not been started: run sandbox.start() first.")
    return _current


def client(service: str):
    """A boto3 client on the sandbox (started first if need be): the course code's own, ``labs.course.aws``."""
    start()
    return aws.client(service)


def resource(service: str):
    start()
    return aws.resource(service)


def reset(force: bool = False) -> None:
    """Empty the sandbox: every queue, topic, bus, table and state machine is gone.

    On a shared server a notebook removes only what this process created, and says so, so that
    other notebooks keep their work; ``force=True`` (or ``python -m labs sandbox reset``)
    empties the whole server.
    """
    box = start()
    if box.mode == "in-process":
        _mock.reset()  # config (Step Functions execution) stays as started
    elif box.mode == "server" and force:
        server.post(box.endpoint_url, "/moto-api/reset", None)
        server.post(box.endpoint_url, "/moto-api/config", MOTO_CONFIG)
    elif box.mode == "server":
        deleted, failed = _owned.delete_all(client)
        print(f"共有サンドボックス: このノートブック (プロセス) が作った {len(deleted)} 個を消しました。"
              "ほかのノートブックのものは残しています。すべて消すには sandbox.reset(force=True)。"
              + (f"\n消せなかったもの: {', '.join(failed)}" if failed else ""))
    else:
        raise SandboxRefused("本物の AWS はリセットできません / refusing to reset real AWS")
    for forget in _on_reset:
        forget()
