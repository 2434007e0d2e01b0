"""Safety: nothing reaches beyond this machine unless the learner sets LABS_REAL_AWS=1.

Every check runs in fresh Python processes (the sandbox mode is fixed per process) with a
socket recorder installed first, through a ``sitecustomize`` on PYTHONPATH: every connect and
DNS lookup of the process, and of every Python process it starts (``!python``, the venv's
``!aws``), is written to one log, and any that is not loopback is blocked. So "sends nothing
beyond loopback" is observed in every process, not assumed. The matrix below tries a learner's
ways off the scripted path (orderings, explicit endpoints, variables set late, sessions made by
hand, subprocesses, the AWS CLI, URL tricks, IPv6 and numeric host forms): each attempt is
either answered by the sandbox or refused with a message in Japanese and English.
"""
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RECORDER = r'''
import ipaddress, json, os, socket, sys
_LOG = os.environ["SAFETY_LOG"]
def _write(kind, host=""):
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps({"pid": os.getpid(), "argv": sys.orig_argv, "kind": kind, "host": str(host)}) + "\n")
def _loopback(host):
    host = str(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False
def _guard(host):
    if host in (None, ""):
        return  # a lookup for binding, not a destination
    _write("attempt", host)
    if not _loopback(host):
        raise OSError(f"socket guard: blocked {host}")
_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
_byname, _byname_ex = socket.gethostbyname, socket.gethostbyname_ex
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _guard(address[0])
    return _connect(self, address)
def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _guard(address[0])
    return _connect_ex(self, address)
def getaddrinfo(host, *args, **kwargs):
    _guard(host)
    return _getaddrinfo(host, *args, **kwargs)
def gethostbyname(host):
    _guard(host)
    return _byname(host)
def gethostbyname_ex(host):
    _guard(host)
    return _byname_ex(host)
socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
socket.gethostbyname, socket.gethostbyname_ex = gethostbyname, gethostbyname_ex
_write("start")
'''

# Run inside the "kernel" process: each attempt prints one ATTEMPT line with its outcome
# ("answered", the exception's class name, or "exit-N" for a process that failed).
HELPERS = r'''
import json, os, subprocess, sys
def attempt(name, call):
    try:
        outcome, text = "answered", str(call())
    except Exception as error:
        outcome, text = type(error).__name__, str(error)
    print("ATTEMPT " + json.dumps({"name": name, "outcome": outcome, "text": text}, ensure_ascii=False), flush=True)
def run(name, *argv, **env):
    """A command from a cell (``!python ...``, ``!aws ...``): the kernel's environment, plus ``env``."""
    def call():
        done = subprocess.run(list(argv), capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
        if done.returncode:
            raise ChildFailed(f"exit-{done.returncode}", done.stdout + done.stderr)
        return done.stdout
    attempt(name, call)
class ChildFailed(Exception):
    pass
def late(variable, value, call):
    """A cell that sets an environment variable, then makes a client and calls it."""
    def with_variable():
        os.environ[variable] = value
        try:
            return call()
        finally:
            del os.environ[variable]
    return with_variable
'''

REAL_LOOKING = {
    "AWS_ACCESS_KEY_ID": "AKIAZ7XQ3EXAMPLE4KEY",
    "AWS_SECRET_ACCESS_KEY": "q8Lr3+realLookingSecretKeyDoNotUse0000000",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEXAMPLEtoken",
    "AWS_PROFILE": "production",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
REFUSED_JA, REFUSED_EN = "リクエストは送信していません", "No request was sent"


@pytest.fixture
def aws_home(tmp_path):
    """A home directory with ~/.aws holding a real-looking profile, as a learner's laptop may."""
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[production]\naws_access_key_id = AKIAZ7XQ3PROFILE0KEY\n"
        "aws_secret_access_key = profileSecretKeyThatLooksReal000000000000\n")
    (aws / "config").write_text("[profile production]\nregion = eu-west-1\n")
    return {"HOME": str(tmp_path), "AWS_CONFIG_FILE": str(aws / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials")}


class Guarded:
    """One process run under the socket recorder, with what it and its children tried to reach."""

    def __init__(self, result: subprocess.CompletedProcess, log: Path):
        self.result = result
        self.entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
        self.attempts = [e["host"] for e in self.entries if e["kind"] == "attempt"]
        self.processes = [e["argv"] for e in self.entries if e["kind"] == "start"]
        self.outcomes = {}
        for line in result.stdout.splitlines():
            if line.startswith("ATTEMPT "):
                entry = json.loads(line[len("ATTEMPT "):])
                self.outcomes[entry["name"]] = (entry["outcome"], entry["text"])

    def beyond_loopback(self) -> list[str]:
        return [host for host in self.attempts if not _is_loopback(host)]


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def guarded(code: str, tmp_path: Path, **env) -> Guarded:
    """Run ``code`` in a fresh Python under the socket recorder (its children too)."""
    site = tmp_path / "recorder"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(RECORDER)
    log = tmp_path / "sockets.jsonl"
    log.unlink(missing_ok=True)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABS_"))}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), str(ROOT), os.environ.get("PYTHONPATH")) if p)
    full_env.update(SAFETY_LOG=str(log), **env)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=full_env, cwd=ROOT, timeout=300)
    return Guarded(result, log)


def test_the_recorder_sees_and_blocks_traffic_beyond_loopback_in_the_process_and_its_children(tmp_path):
    code = ("import socket, subprocess, sys\ntry:\n    socket.create_connection(('192.0.2.1', 443), timeout=1)\n"
            "except OSError as error:\n    print(error)\n"
            "subprocess.run([sys.executable, '-c', 'import socket\\ntry:\\n    socket.getaddrinfo(\"example.com\", 80)\\n"
            "except OSError:\\n    pass'])")
    run = guarded(code, tmp_path)
    assert "blocked 192.0.2.1" in run.result.stdout
    assert run.attempts == ["192.0.2.1", "example.com"] and len(run.processes) == 2


# --- the matrix: a notebook kernel in the default (in-process) mode ------------------------------

IN_PROCESS = HELPERS + r'''
import boto3, botocore.session
from botocore.config import Config
from labs.course import aws

early_client = boto3.client("sqs")                    # a natural first cell, before start()
early_session = boto3.Session()
early_botocore = botocore.session.Session()
early_resource = boto3.resource("dynamodb")
early_course_client = aws.client("sqs")               # the course code's cached client, made too early

from labs import sandbox
box = sandbox.start()
print("MODE", box.mode)
served = box.endpoint_url
queue = boto3.client("sqs").create_queue(QueueName="kernel-q")["QueueUrl"]
boto3.client("dynamodb").create_table(TableName="kernel-t", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")

def sqs_at(url, **kwargs):
    return lambda: boto3.client("sqs", endpoint_url=url, **kwargs).list_queues()

attempt("client made before start()", lambda: early_client.list_queues())
attempt("boto3.Session made before start()", lambda: early_session.client("sqs").list_queues())
attempt("botocore Session made before start()", lambda: early_botocore.create_client("sqs").list_queues())
attempt("resource made before start()", lambda: list(early_resource.tables.all()))
attempt("course client cached before start()", lambda: aws.client("sqs").list_queues()["QueueUrls"])
attempt("client made after start()", lambda: boto3.client("sqs").list_queues()["QueueUrls"])
attempt("botocore session made after start()", lambda: botocore.session.get_session().create_client("sqs").list_queues()["QueueUrls"])
attempt("sandbox.client()", lambda: sandbox.client("sqs").list_queues()["QueueUrls"])
attempt("endpoint_url private address", sqs_at("http://10.0.0.1:4566"))
attempt("endpoint_url link-local metadata", sqs_at("http://169.254.169.254"))
attempt("endpoint_url real AWS", sqs_at("https://sqs.us-east-1.amazonaws.com"))
attempt("AWS_ENDPOINT_URL_SQS set late", late("AWS_ENDPOINT_URL_SQS", "http://10.0.0.1:4566", lambda: boto3.client("sqs").list_queues()))
attempt("AWS_ENDPOINT_URL set late", late("AWS_ENDPOINT_URL", "https://example.com", lambda: boto3.client("dynamodb").list_tables()))
attempt("backslash before @ (loopback after)", sqs_at("http://evil.example\\@127.0.0.1:4566"))
attempt("backslash before @ (loopback before)", sqs_at("http://127.0.0.1\\@evil.example:4566"))
attempt("user info in the URL", sqs_at(served.replace("http://", "http://user@")))
attempt("decimal IPv4 2130706433", sqs_at("http://2130706433:4566"))
attempt("hex IPv4 0x7f.1", sqs_at("http://0x7f.1:4566"))
attempt("short IPv4 127.1", sqs_at("http://127.1:4566"))
attempt("IPv4-mapped IPv6", sqs_at("http://[::ffff:10.0.0.1]:4566"))
attempt("unspecified 0.0.0.0", sqs_at("http://0.0.0.0:4566"))
attempt("DNS name starting with localhost", sqs_at("http://localhost.attacker.example:4566"))
attempt("IPv6 loopback [::1]", sqs_at("http://[::1]:9", config=Config(retries={"total_max_attempts": 1})))
attempt("the served sandbox, explicitly", lambda: boto3.client("sqs", endpoint_url=served).list_queues()["QueueUrls"])
attempt("proxy in the client's Config", sqs_at(served, config=Config(proxies={"http": "http://10.0.0.2:3128"})))
attempt("HTTP_PROXY set late", late("HTTP_PROXY", "http://10.0.0.2:3128", sqs_at(served)))
run("!python: a plain client", "python", "-c", "import boto3; print(boto3.client('sqs').list_queues()['QueueUrls'])")
run("!python: a hand-made botocore session", "python", "-c",
    "import botocore.session as s; print(s.Session().create_client('dynamodb').list_tables()['TableNames'])")
run("!python: endpoint_url private address", "python", "-c",
    "import boto3; boto3.client('sqs', endpoint_url='http://10.0.0.1:4566').list_queues()")
run("!python: AWS_ENDPOINT_URL_SQS at real AWS", "python", "-c",
    "import boto3; print(boto3.client('sqs').list_queues()['QueueUrls'])", AWS_ENDPOINT_URL_SQS="https://sqs.us-east-1.amazonaws.com")
run("!python: the backslash trick", "python", "-c",
    "import boto3; boto3.client('sqs', endpoint_url='http://evil.example\\\\@127.0.0.1:4566').list_queues()")
run("!aws sqs list-queues", "aws", "sqs", "list-queues")
run("!aws dynamodb list-tables", "aws", "dynamodb", "list-tables")
run("!aws --endpoint-url private address", "aws", "--endpoint-url", "http://10.0.0.1:4566", "sqs", "list-queues")
run("!aws --endpoint-url decimal IPv4", "aws", "--endpoint-url", "http://2130706433:4566", "sqs", "list-queues")
run("!python running !aws", "python", "-c", "import subprocess; subprocess.run(['aws', 'sqs', 'list-queues'], check=True)")
'''

ANSWERED = "answered"
# name -> (outcome, texts the outcome's text must hold)
EXPECTED_IN_PROCESS = {
    "client made before start()": ("SandboxRefused", ["sandbox.start() より前", "made before sandbox.start()"]),
    "boto3.Session made before start()": ("SandboxRefused", ["sandbox.start() より前", "made before sandbox.start()"]),
    "botocore Session made before start()": ("SandboxRefused", ["sandbox.start() より前", "made before sandbox.start()"]),
    "resource made before start()": ("SandboxRefused", ["sandbox.start() より前", "made before sandbox.start()"]),
    "course client cached before start()": (ANSWERED, ["kernel-q"]),
    "client made after start()": (ANSWERED, ["kernel-q"]),
    "botocore session made after start()": (ANSWERED, ["kernel-q"]),
    "sandbox.client()": (ANSWERED, ["kernel-q"]),
    "endpoint_url private address": ("SandboxRefused", ["10.0.0.1", "ループバック", "not loopback"]),
    "endpoint_url link-local metadata": ("SandboxRefused", ["169.254.169.254", "not loopback"]),
    "endpoint_url real AWS": (ANSWERED, []),  # an AWS host: moto answers it in the process
    "AWS_ENDPOINT_URL_SQS set late": ("SandboxRefused", ["10.0.0.1", "AWS_ENDPOINT_URL"]),
    "AWS_ENDPOINT_URL set late": ("SandboxRefused", ["example.com", "AWS_ENDPOINT_URL"]),
    "backslash before @ (loopback after)": ("SandboxRefused", ["読み方が一通りに決まりません", "more than one host"]),
    "backslash before @ (loopback before)": ("SandboxRefused", ["読み方が一通りに決まりません", "more than one host"]),
    "user info in the URL": ("SandboxRefused", ["読み方が一通りに決まりません", "more than one host"]),
    "decimal IPv4 2130706433": ("SandboxRefused", ["127.0.0.1 と書いてください", "Write 127.0.0.1"]),
    "hex IPv4 0x7f.1": ("SandboxRefused", ["127.0.0.1 と書いてください", "Write 127.0.0.1"]),
    "short IPv4 127.1": ("SandboxRefused", ["127.0.0.1 と書いてください", "Write 127.0.0.1"]),
    "IPv4-mapped IPv6": ("SandboxRefused", ["10.0.0.1 と書いてください"]),
    "unspecified 0.0.0.0": ("SandboxRefused", ["0.0.0.0", "not loopback"]),
    "DNS name starting with localhost": ("SandboxRefused", ["localhost.attacker.example", "not loopback"]),
    "IPv6 loopback [::1]": ("EndpointConnectionError", ["[::1]:9"]),  # allowed: loopback; nothing listens there
    "the served sandbox, explicitly": (ANSWERED, ["kernel-q"]),
    "proxy in the client's Config": ("SandboxRefused", ["10.0.0.2:3128", "プロキシ", "proxy"]),
    "HTTP_PROXY set late": ("SandboxRefused", ["10.0.0.2:3128", "プロキシ", "proxy"]),
    "!python: a plain client": (ANSWERED, ["kernel-q"]),
    "!python: a hand-made botocore session": (ANSWERED, ["kernel-t"]),
    "!python: endpoint_url private address": ("ChildFailed", ["10.0.0.1", "ノートブックから起動したプロセス"]),
    "!python: AWS_ENDPOINT_URL_SQS at real AWS": (ANSWERED, ["kernel-q"]),  # an AWS host: the notebook's sandbox
    "!python: the backslash trick": ("ChildFailed", ["読み方が一通りに決まりません", "more than one host"]),
    "!aws sqs list-queues": (ANSWERED, ["kernel-q"]),
    "!aws dynamodb list-tables": (ANSWERED, ["kernel-t"]),
    "!aws --endpoint-url private address": ("ChildFailed", ["10.0.0.1", "not loopback"]),
    "!aws --endpoint-url decimal IPv4": ("ChildFailed", ["127.0.0.1 と書いてください", "Write 127.0.0.1"]),
    "!python running !aws": (ANSWERED, ["kernel-q"]),
}


def assert_matrix(run: Guarded, expected: dict) -> None:
    assert run.result.returncode == 0, run.result.stderr
    assert set(run.outcomes) == set(expected), run.result.stderr
    for name, (outcome, texts) in expected.items():
        got, text = run.outcomes[name]
        assert got == outcome, f"{name}: {got}: {text}"
        for piece in texts:
            assert piece in text, f"{name}: {piece!r} not in {text!r}"
        if outcome in ("SandboxRefused", "ChildFailed") and got != ANSWERED:
            assert REFUSED_JA in text and REFUSED_EN in text, f"{name}: not said in both languages: {text!r}"
    assert run.beyond_loopback() == [], "a connection or DNS lookup beyond loopback"


def test_in_process_matrix_nothing_beyond_loopback_and_every_refusal_explained(tmp_path, aws_home):
    assert len(EXPECTED_IN_PROCESS) >= 25
    run = guarded(IN_PROCESS, tmp_path, **REAL_LOOKING, **aws_home,
                  AWS_ENDPOINT_URL_SQS="https://sqs.us-east-1.amazonaws.com")
    assert "MODE in-process" in run.result.stdout, run.result.stderr
    assert_matrix(run, EXPECTED_IN_PROCESS)
    # The recorder ran in every process: the kernel, 6 !python and 5 !aws (one of them inside a !python).
    assert len(run.processes) == 1 + 6 + 5, run.processes
    assert sum(len(argv) > 1 and Path(argv[1]).name == "aws" for argv in run.processes) == 5


# --- the matrix on a shared server -------------------------------------------------------------

SERVER = HELPERS + r'''
import boto3, botocore.session
early_client = boto3.client("sqs")
from labs import sandbox
box = sandbox.start()
print("MODE", box.mode)
boto3.client("sqs").create_queue(QueueName="shared-q")
attempt("server: client made before start()", lambda: early_client.list_queues())
attempt("server: client made after start()", lambda: boto3.client("sqs").list_queues()["QueueUrls"])
attempt("server: endpoint_url private address", lambda: boto3.client("sqs", endpoint_url="http://10.0.0.1:4566").list_queues())
attempt("server: AWS_ENDPOINT_URL_SQS set late", late("AWS_ENDPOINT_URL_SQS", "https://sqs.ap-northeast-1.amazonaws.com", lambda: boto3.client("sqs").list_queues()))
run("server: !aws sqs list-queues", "aws", "sqs", "list-queues")
run("server: !python", "python", "-c", "import boto3; print(boto3.client('sqs').list_queues()['QueueUrls'])")
'''

EXPECTED_SERVER = {
    "server: client made before start()": ("SandboxRefused", ["made before sandbox.start()"]),
    "server: client made after start()": (ANSWERED, ["shared-q"]),
    "server: endpoint_url private address": ("SandboxRefused", ["10.0.0.1", "not loopback"]),
    "server: AWS_ENDPOINT_URL_SQS set late": ("SandboxRefused", ["sqs.ap-northeast-1.amazonaws.com"]),
    "server: !aws sqs list-queues": (ANSWERED, ["shared-q"]),
    "server: !python": (ANSWERED, ["shared-q"]),
}


def test_shared_server_matrix_nothing_beyond_loopback(tmp_path, shared_server, aws_home):
    run = guarded(SERVER, tmp_path, **REAL_LOOKING, **aws_home, LABS_ENDPOINT_URL=shared_server)
    assert "MODE server" in run.result.stdout, run.result.stderr
    assert_matrix(run, EXPECTED_SERVER)


# --- LABS_ENDPOINT_URL: refused by start() before any request ----------------------------------

ENDPOINT_SETTINGS = [
    "https://sqs.ap-northeast-1.amazonaws.com",
    "http://192.168.1.20:4566",
    "http://127.0.0.1.attacker.example:5000",  # looks like loopback, is a DNS name
    "http://localhost.attacker.example:5000",
    "http://0.0.0.0:5000",
    "http://evil.example\\@127.0.0.1:5000",  # urllib.parse reads 127.0.0.1; urllib3 would connect to evil.example
    "http://127.0.0.1\\@evil.example:5000",  # the reverse
    "http://2130706433:5000",
    "http://[::ffff:192.168.1.20]:5000",
    "http://127.0.0.1:5000@evil.example",
]


def test_a_labs_endpoint_url_off_this_machine_or_ambiguous_is_refused_by_start(tmp_path):
    code = HELPERS + f"""
from labs import sandbox
for url in {ENDPOINT_SETTINGS!r}:
    os.environ["LABS_ENDPOINT_URL"] = url
    attempt(url, sandbox.start)
"""
    run = guarded(code, tmp_path, **REAL_LOOKING)
    assert run.result.returncode == 0, run.result.stderr
    for url in ENDPOINT_SETTINGS:
        outcome, text = run.outcomes[url]
        assert outcome == "SandboxRefused" and REFUSED_JA in text and REFUSED_EN in text, (url, text)
    assert run.attempts == []  # refused before a connection or even a name lookup


# --- the way out, and the rest --------------------------------------------------------------------

def test_real_credentials_and_a_profile_still_give_the_fake_sandbox(tmp_path, aws_home):
    code = """
import boto3
from labs import sandbox
print(sandbox.start().mode)
sqs = boto3.client("sqs")  # as the course text writes it
url = sqs.create_queue(QueueName="orders")["QueueUrl"]
sqs.send_message(QueueUrl=url, MessageBody="hello")
session = boto3.Session()
print(session.get_credentials().access_key, session.region_name, session.profile_name)
print(boto3.client("sts").get_caller_identity()["Account"])
"""
    run = guarded(code, tmp_path, **REAL_LOOKING, **aws_home)
    assert run.result.returncode == 0, run.result.stderr
    mode, creds, account = run.result.stdout.splitlines()[:3]
    assert mode == "in-process"
    key, region, profile = creds.split()
    assert "AKIA" not in key and region == "ap-northeast-1" and profile == "default"
    assert account == "123456789012"  # moto's account, never the learner's
    assert run.beyond_loopback() == []


@pytest.mark.parametrize("value", ["true", "yes", "0", "", "TRUE"])
def test_only_labs_real_aws_equal_to_1_leaves_the_sandbox(value, tmp_path, aws_home):
    run = guarded("from labs import sandbox; print(sandbox.start().mode)", tmp_path,
                  **REAL_LOOKING, **aws_home, LABS_REAL_AWS=value)
    assert run.result.stdout.splitlines()[0] == "in-process"
    assert run.beyond_loopback() == []


def test_labs_real_aws_1_is_the_one_way_out_and_even_then_reset_is_refused(tmp_path):
    code = """
import boto3
from botocore.config import Config
from labs import sandbox
print(sandbox.start().mode)
try:
    sandbox.reset()
except sandbox.SandboxRefused as error:
    print("REFUSED", error)
try:
    boto3.client("sqs", endpoint_url="http://192.0.2.1:9", config=Config(retries={"total_max_attempts": 1})).list_queues()
except Exception as error:
    print(type(error).__name__, error)
"""
    keys = {k: REAL_LOOKING[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    run = guarded(code, tmp_path, **keys, LABS_REAL_AWS="1")
    assert run.result.stdout.splitlines()[:1] == ["real-aws"]
    assert "REFUSED" in run.result.stdout
    # No guard: the request went out (the recorder blocked it here); nothing else needs the opt-in.
    assert "192.0.2.1" in run.attempts


def test_pip_and_non_aws_traffic_in_a_guarded_subprocess_are_left_alone(tmp_path):
    code = HELPERS + """
from labs import sandbox
sandbox.start()
run("pip", "python", "-m", "pip", "--version")
run("plain HTTP", "python", "-c", "import urllib.request\\ntry:\\n    urllib.request.urlopen('http://192.0.2.1:9', timeout=1)\\n"
    "except OSError as error:\\n    print(error)")
"""
    run = guarded(code, tmp_path)
    assert run.outcomes["pip"][0] == ANSWERED and "pip" in run.outcomes["pip"][1]
    assert run.outcomes["plain HTTP"][0] == ANSWERED and "blocked 192.0.2.1" in run.outcomes["plain HTTP"][1]
    assert run.beyond_loopback() == ["192.0.2.1"]  # not an AWS request: not the guard's business


def outward_address() -> str | None:
    """This machine's non-loopback address, if it has one (a UDP connect sends nothing)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def listening_addresses(port: int) -> list[str]:
    """Local addresses of sockets listening on ``port`` (Linux /proc/net/tcp, tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.append(address)
    return found


def test_the_shared_server_listens_on_127_0_0_1_only(shared_server):
    port = int(shared_server.rsplit(":", 1)[1])
    if os.path.exists("/proc/net/tcp"):
        assert listening_addresses(port) == ["0100007F"]  # 127.0.0.1, nothing on 0.0.0.0 or IPv6
    outward = outward_address()
    if outward:
        with pytest.raises(OSError):
            socket.create_connection((outward, port), timeout=1).close()


KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
SECRET = re.compile(r"aws_secret_access_key\W{1,6}(?!testing)[A-Za-z0-9/+]{30,}", re.I)
ACCOUNT = re.compile(r"arn:aws[\w-]*:[\w-]+:[\w-]*:(\d{12}):|amazonaws\.com/(\d{12})/|\"Account\":\s*\"(\d{12})\"")


def committed_notebooks() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.ipynb"], capture_output=True, text=True, cwd=ROOT).stdout
    return [ROOT / name for name in listed.split()]


@pytest.mark.parametrize("notebook", committed_notebooks() or [None], ids=lambda p: p.name if p else "none")
def test_no_committed_notebook_holds_credentials_or_a_real_account_id(notebook):
    if notebook is None:
        pytest.skip("no notebook committed yet")
    text = notebook.read_text(encoding="utf-8")
    assert not KEY_ID.findall(text), "an access key id"
    assert not SECRET.findall(text), "a secret access key"
    accounts = {a for match in ACCOUNT.findall(text) for a in match if a}
    assert accounts <= {"123456789012"}, f"account ids other than moto's: {accounts}"
