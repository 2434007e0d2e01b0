"""The network guard: every AWS request goes to loopback, or is refused before it is sent.

It sits where botocore sends a request (``Endpoint._send``: after signing, after moto has had
its chance to answer in-process, before any socket is opened), so it holds for every client
however and whenever it was made: before ``sandbox.start()``, from a hand-made
``botocore.session.Session()``, with an explicit ``endpoint_url``, after ``AWS_ENDPOINT_URL_*``
was set in a later cell. A refused request raises :class:`SandboxRefused`, whose message says in
Japanese and English what happened and what to do. ``LABS_REAL_AWS=1`` is the one way out: then
``sandbox.start()`` does not install the guard.

A URL is parsed once, strictly: a host that two parsers could read differently (a backslash or
``@`` in the authority, percent signs, spaces) is refused, and the host checked is the host
urllib3 (botocore's HTTP library) connects to. Legacy numeric forms (``2130706433``, ``0x7f.1``,
``127.1``) are refused with the usual spelling to use instead.

This file is also loaded on its own, by path, at the start of every Python process the
workbook's kernel starts (``!python``, the venv's ``!aws``; see ``subprocess_site/``), so it
imports nothing of ``labs``, and botocore only when the process itself imports it (the AWS CLI
brings its own copy of botocore; importing ours first would swap it). In such a process a
request for an AWS host goes to the notebook's sandbox, as moto answers it in the kernel.
"""
from __future__ import annotations

import importlib.machinery
import ipaddress
import os
import re
import socket
import sys
import urllib.parse
from dataclasses import dataclass

LOOPBACK_NAMES = ("localhost",)
_AWS_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# scheme://host[:port] with host a DNS name or a bracketed IPv6 address; nothing else may sit there.
_AUTHORITY = re.compile(r"(?:\[(?P<ipv6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9.-]+))(?::(?P<port>[0-9]{1,5}))?", re.I)
NOT_SENT = "リクエストは送信していません。/ No request was sent."
WAY_OUT = ("本物の AWS を使うときだけ、カーネル (プロセス) を起動する前に LABS_REAL_AWS=1 を設定してください。"
           "/ Set LABS_REAL_AWS=1 before starting the kernel (process) only to use real AWS.")


class SandboxRefused(RuntimeError):
    """A request (or an endpoint) that would leave this machine, refused before anything was sent."""


class SandboxUnavailable(ConnectionError):
    """The sandbox's endpoint does not answer (the shared server stopped, or the kernel that served it).

    Not one of botocore's retryable errors: the learner hears at once, not after botocore's
    back-off, and a runtime can tell it from a handler's failure and wait.
    """


@dataclass(frozen=True)
class Endpoint:
    """Where a URL connects: scheme, host (lower case; IPv6 without brackets) and port."""

    scheme: str
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse(url: str) -> Endpoint:
    """The one reading of ``url`` every check uses; SandboxRefused when it has more than one."""
    scheme, separator, rest = str(url).partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    match = _AUTHORITY.fullmatch(authority) if separator and scheme.lower() in _DEFAULT_PORTS else None
    if match is None:
        raise SandboxRefused(_ambiguous(url))
    scheme, host = scheme.lower(), (match["ipv6"] or match["name"]).lower()
    port = int(match["port"]) if match["port"] else _DEFAULT_PORTS[scheme]
    if not 0 < port < 65536 or _http_library_host(url) != host or urllib.parse.urlsplit(url).hostname != host:
        raise SandboxRefused(_ambiguous(url))
    return Endpoint(scheme, host, port)


def _http_library_host(url: str) -> str | None:
    """The host urllib3 (what botocore connects with) reads in ``url``."""
    from urllib3.util import parse_url

    try:
        host = parse_url(url).host or ""
    except ValueError:
        return None
    return host.strip("[]").lower()


def problem_with(endpoint: Endpoint) -> str | None:
    """Why a request to ``endpoint`` may not be sent (a reason key), or None when it is loopback."""
    host = endpoint.host
    if host in LOOPBACK_NAMES:
        return None
    if ":" in host:
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return "ambiguous"
        return None if address.is_loopback else "numeric" if address.ipv4_mapped else "outside"
    try:
        return None if ipaddress.IPv4Address(host).is_loopback else "outside"
    except ValueError:
        pass
    try:
        socket.inet_aton(host)  # what the resolver would make of it: an old numeric spelling
    except OSError:
        return "real-aws" if host.endswith(_AWS_DOMAINS) else "outside"
    return "numeric"


def loopback(url: str, where: str = "setting") -> Endpoint:
    """``url`` parsed, when it is on this machine; SandboxRefused (saying why) otherwise."""
    endpoint = parse(url)
    problem = problem_with(endpoint)
    if problem:
        raise SandboxRefused(refusal(problem, url, endpoint, where))
    return endpoint


# --- what the learner reads --------------------------------------------------------------------

def _ambiguous(url: str) -> str:
    return (f"URL {url!r} はホスト名の読み方が一通りに決まりません (\\ や @、空白、% などを含むか、http/https でない)。"
            "どこにつながるか確かめられないので止めました。http://127.0.0.1:5000 のように書いてください。\n"
            f"The URL {url!r} can be read as more than one host (it holds \\, @, spaces or %, or is not http/https), "
            "so where it would connect cannot be checked. Write it like http://127.0.0.1:5000.\n"
            f"{NOT_SENT}")


def refusal(problem: str, url: str, endpoint: Endpoint, where: str, proxy: str = "") -> str:
    """The bilingual message for a refused request: what happened, then what to do.

    ``where``: "in-process" or "server" (a client in the notebook's kernel), "subprocess" (a
    process the kernel started), "setting" (LABS_ENDPOINT_URL, checked by sandbox.start()).
    """
    host = endpoint.host
    if problem == "real-aws" and where not in ("in-process", "server"):
        problem = "outside"  # only a kernel's client can have been made before start()
    what = {
        "real-aws": (
            f"このクライアントは本物の AWS ({host}) に送ろうとしたので、送る前に止めました。"
            "sandbox.start() より前に作ったクライアントや Session は、本物の AWS を向いたままです。"
            "start() の後で作り直してください (例: sqs = boto3.client(\"sqs\"))。"
            "endpoint_url や AWS_ENDPOINT_URL* で AWS を指しているなら、それを外してください。\n"
            f"This client tried to send to real AWS ({host}) and was stopped before sending. A client or session "
            "made before sandbox.start() still points at real AWS: make it again after start(), "
            "e.g. sqs = boto3.client(\"sqs\"). If endpoint_url or AWS_ENDPOINT_URL* names AWS, drop it."),
        "outside": (
            f"送り先 {url} はループバック (このマシンの中: 127.0.0.1, localhost, [::1]) ではないので、送る前に止めました。"
            "サンドボックスのほかに送れるのはループバックだけです。endpoint_url や AWS_ENDPOINT_URL* の設定を外すか、"
            "ループバックを指してください。\n"
            f"{url} is not loopback (this machine: 127.0.0.1, localhost, [::1]), so the request was stopped before "
            "sending. Besides the sandbox, only loopback may be reached: drop the endpoint_url or AWS_ENDPOINT_URL* "
            "setting, or point it at loopback."),
        "numeric": (
            f"{host} は IPv4 アドレス {_canonical(host)} の古い書き方で、ライブラリによって読み方が違うことがあるので止めました。"
            f"{_canonical(host)} と書いてください。\n"
            f"{host} is an old spelling of the IPv4 address {_canonical(host)}, which libraries may read differently; "
            f"it was stopped. Write {_canonical(host)}."),
        "proxy": (
            f"{url} への送信がプロキシ {proxy} を通るところだったので止めました (プロキシはこのマシンの外です)。"
            "HTTP(S)_PROXY を外すか、NO_PROXY に 127.0.0.1,localhost を加えてください。\n"
            f"The request to {url} would have gone through the proxy {proxy}, outside this machine, so it was "
            "stopped. Unset HTTP(S)_PROXY, or add 127.0.0.1,localhost to NO_PROXY."),
        "transport": (
            "このクライアントの HTTP の送り方 (http_session) は確かめられないので止めました。\n"
            "This client sends through an HTTP session the guard cannot check, so the request was stopped."),
    }.get(problem)
    if what is None:
        return _ambiguous(url)
    if where == "setting":
        what = f"LABS_ENDPOINT_URL={url}: {what}"
    elif where == "subprocess":
        what = ("(ノートブックから起動したプロセス / a process started from the notebook) " + what
                + "\nこのプロセスの AWS クライアントは、ほかに指定がなければノートブックのサンドボックス (AWS_ENDPOINT_URL) に送ります。"
                "\nThis process's AWS clients send to the notebook's sandbox (AWS_ENDPOINT_URL) unless told otherwise.")
    return f"{what}\n{NOT_SENT}\n{WAY_OUT}"


def _canonical(host: str) -> str:
    """The usual spelling of an IPv4 address written the old way (or mapped into IPv6)."""
    try:
        return str(ipaddress.IPv6Address(host).ipv4_mapped or host) if ":" in host else str(
            ipaddress.IPv4Address(socket.inet_aton(host)))
    except (OSError, ValueError):
        return host


def _unavailable_message(url: str, where: str) -> str:
    port = url.rsplit(":", 1)[-1]
    if where == "subprocess":
        return (f"ノートブックのサンドボックス ({url}) に接続できません。ノートブックのカーネルが止まったか、"
                "共有サーバーが止まったようです。カーネルを動かしたまま実行するか、共有サーバーなら "
                f"`python -m labs sandbox serve --port {port}` で起動し直してください。\n"
                f"The notebook's sandbox ({url}) does not answer: its kernel or the shared server has stopped. "
                f"Run this while the kernel runs, or restart the shared server with "
                f"`python -m labs sandbox serve --port {port}`.")
    return (f"共有サンドボックス ({url}) に接続できません。サーバーが止まったようです。"
            f"ターミナルで `python -m labs sandbox serve --port {port}` を実行して起動し直し"
            "(中身は空から始まります)、このノートブックのセルを最初から実行し直してください。\n"
            f"The shared sandbox ({url}) does not answer: the server seems to have stopped. Restart it in a "
            f"terminal with `python -m labs sandbox serve --port {port}` (it starts empty), then run this "
            "notebook again from the top.")


# --- the guard at botocore's send ------------------------------------------------------------

@dataclass(frozen=True)
class Policy:
    where: str  # "in-process" | "server" | "subprocess": whose requests these are, for the messages
    sandbox: Endpoint | None  # where the sandbox answers over HTTP, when it does


_policy: Policy | None = None


def install(where: str, sandbox_url: str | None = None) -> None:
    """From now on, every botocore request of this process goes to loopback or is refused."""
    global _policy
    _policy = Policy(where, parse(sandbox_url) if sandbox_url else None)
    endpoint_module = sys.modules.get("botocore.endpoint")
    if endpoint_module is not None:
        _patch(endpoint_module.Endpoint)
    elif not any(isinstance(finder, _PatchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())


def installed() -> Policy | None:
    return _policy


def _patch(endpoint_class) -> None:
    if getattr(endpoint_class._send, "labs_guard", False):
        return
    send = endpoint_class._send
    # The botocore this Endpoint belongs to (the AWS CLI brings its own copy, imported as botocore).
    errors = importlib.import_module(endpoint_class.__module__.rsplit(".", 1)[0] + ".exceptions")
    lost = (errors.EndpointConnectionError, errors.ConnectionClosedError)

    def _send(self, request):
        return _guarded_send(send, lost, self, request)

    _send.labs_guard = True
    endpoint_class._send = _send


class _PatchOnImport:
    """Patches botocore when it is first imported: a process that never uses boto3 never loads it."""

    def find_spec(self, name, path, target=None):
        if name != "botocore.endpoint":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _patch(module.Endpoint)

        spec.loader.exec_module = exec_module
        return spec


def _guarded_send(send, lost, endpoint, request):
    policy = _policy
    if policy is None:
        return send(endpoint, request)
    if policy.where == "subprocess" and policy.sandbox is not None:
        request.url = routed_to_sandbox(request.url, policy.sandbox)
    target = check(request.url, endpoint.http_session, policy.where)
    try:
        return send(endpoint, request)
    except lost as error:
        if policy.sandbox is not None and (target.host, target.port) == (policy.sandbox.host, policy.sandbox.port):
            raise SandboxUnavailable(_unavailable_message(policy.sandbox.url, policy.where)) from error
        raise


def routed_to_sandbox(url: str, sandbox: Endpoint) -> str:
    """In a process the kernel started, a request for an AWS host goes to the notebook's sandbox.

    That is what moto does in the kernel itself (it answers AWS's hostnames), and what the
    process's environment says (``AWS_ENDPOINT_URL``); some programs name AWS's hosts
    explicitly all the same (AWS CLI v1 does for ``aws sqs``: its
    ``customizations/overridesslcommonname.py`` sets ``https://<region>.queue.amazonaws.com``
    whenever ``--endpoint-url`` is not given).
    """
    try:
        endpoint = parse(url)
    except SandboxRefused:
        return url  # refused by the check that follows
    if problem_with(endpoint) != "real-aws":
        return url
    rest = re.split(r"(?=[/?#])", url.partition("://")[2], maxsplit=1)
    return sandbox.url + (rest[1] if len(rest) > 1 else "/")


def check(url: str, http_session, where: str) -> Endpoint:
    """The endpoint ``url`` connects to, when it (and any proxy on the way) is loopback."""
    endpoint = loopback(url, where)
    proxy_config = getattr(http_session, "_proxy_config", None)
    if proxy_config is None:
        raise SandboxRefused(refusal("transport", url, endpoint, where))
    proxy = proxy_config.proxy_url_for(url)
    if proxy:
        try:
            loopback(proxy)
        except SandboxRefused:
            raise SandboxRefused(refusal("proxy", url, endpoint, where, proxy=proxy)) from None
    return endpoint


# --- processes the kernel starts -------------------------------------------------------------

def install_in_subprocess() -> None:
    """Run at the start of a Python process whose parent started the sandbox (``LABS_SANDBOX`` set).

    The guard goes in first; then, unless the process chose otherwise, its AWS clients are
    pointed at the parent's sandbox (``LABS_SANDBOX_URL``), so ``!aws sqs list-queues`` in a
    cell lists the notebook's queues.
    """
    url = os.environ.get("LABS_SANDBOX_URL") or None
    try:
        sandbox = loopback(url) if url else None
    except SandboxRefused:
        sandbox = None  # a mangled variable: guard anyway, point nowhere
    install("subprocess", sandbox.url if sandbox else None)
    if sandbox is not None:
        os.environ.setdefault("AWS_ENDPOINT_URL", sandbox.url)
