"""Safety: a learner's real AWS account is never touched unless they set LABS_REAL_AWS=1.

Each check runs in a fresh Python process (the sandbox mode is fixed per process) with a
socket guard installed first: every connect and DNS lookup is written down, and any
that is not loopback is blocked. So "sends nothing beyond loopback" is observed, not assumed.
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

GUARD = r'''
import atexit, ipaddress, json, socket
ATTEMPTS = []
def _loopback(host):
    host = str(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False
def _guard(host):
    ATTEMPTS.append(str(host))
    if not _loopback(host):
        raise OSError(f"socket guard: blocked {host}")
_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
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
socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
atexit.register(lambda: print("GUARD " + json.dumps(ATTEMPTS)))
'''

REAL_LOOKING = {
    "AWS_ACCESS_KEY_ID": "AKIAZ7XQ3EXAMPLE4KEY",
    "AWS_SECRET_ACCESS_KEY": "q8Lr3+realLookingSecretKeyDoNotUse0000000",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEXAMPLEtoken",
    "AWS_PROFILE": "production",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


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


def guarded(code: str, **env) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``code`` under the socket guard; return the process and every host it tried to reach."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABS_"))}
    full_env.update(env)
    result = subprocess.run([sys.executable, "-c", GUARD + "\n" + code], capture_output=True, text=True,
                            env=full_env, cwd=ROOT, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("GUARD ")]
    attempts = json.loads(lines[-1][len("GUARD "):]) if lines else None
    return result, attempts


def test_the_guard_sees_and_blocks_traffic_beyond_loopback():
    result, attempts = guarded("import socket\ntry:\n    socket.create_connection(('192.0.2.1', 443), timeout=1)\n"
                               "except OSError as error:\n    print(error)")
    assert "blocked 192.0.2.1" in result.stdout and attempts == ["192.0.2.1"]


def test_real_credentials_and_a_profile_still_give_the_fake_sandbox_and_no_traffic(aws_home):
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
    result, attempts = guarded(code, **REAL_LOOKING, **aws_home, AWS_ENDPOINT_URL_SQS="https://sqs.us-east-1.amazonaws.com")
    assert result.returncode == 0, result.stderr
    mode, creds, account = result.stdout.splitlines()[:3]
    assert mode == "in-process"
    key, region, profile = creds.split()
    assert "AKIA" not in key and region == "ap-northeast-1" and profile == "default"
    assert account == "123456789012"  # moto's account, never the learner's
    assert attempts == []  # in-process: not a single connection, not even a DNS lookup


@pytest.mark.parametrize("value", ["true", "yes", "0", "", "TRUE"])
def test_only_labs_real_aws_equal_to_1_leaves_the_sandbox(value, aws_home):
    result, attempts = guarded("from labs import sandbox; print(sandbox.start().mode)",
                               **REAL_LOOKING, **aws_home, LABS_REAL_AWS=value)
    assert result.stdout.splitlines()[0] == "in-process"
    assert attempts == []


def test_labs_real_aws_1_is_the_way_out_and_even_then_reset_is_refused():
    code = """
from labs import sandbox
print(sandbox.start().mode)
try:
    sandbox.reset()
except sandbox.SandboxRefused as error:
    print("REFUSED", error)
"""
    result, attempts = guarded(code, LABS_REAL_AWS="1")
    assert result.stdout.splitlines()[:1] == ["real-aws"]
    assert "REFUSED" in result.stdout
    assert attempts == []  # choosing real AWS sends nothing by itself


@pytest.mark.parametrize("endpoint", [
    "https://sqs.ap-northeast-1.amazonaws.com",
    "http://192.168.1.20:4566",
    "http://127.0.0.1.attacker.example:5000",  # looks like loopback, is a DNS name
    "http://localhost.attacker.example:5000",
    "http://0.0.0.0:5000",
])
def test_a_non_loopback_endpoint_is_refused_before_any_request(endpoint):
    code = """
from labs import sandbox
try:
    sandbox.start()
except sandbox.SandboxRefused as error:
    print("REFUSED")
"""
    result, attempts = guarded(code, **REAL_LOOKING, LABS_ENDPOINT_URL=endpoint)
    assert result.stdout.splitlines()[0] == "REFUSED", result.stderr
    assert attempts == []  # refused before a connection or even a name lookup


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
