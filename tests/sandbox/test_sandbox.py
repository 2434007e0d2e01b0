"""Where "AWS" is: in-process by default, a shared server on loopback, never elsewhere
without LABS_REAL_AWS=1. Mode tests run in a subprocess: the mode is fixed per process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REAL_LOOKING = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "token",
    "AWS_PROFILE": "production",
    "AWS_DEFAULT_REGION": "us-west-2",
}


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABS_"))}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, cwd=ROOT, timeout=120)


def test_plain_boto3_client_reaches_in_process_sandbox_despite_real_credentials():
    result = run_python(
        "import boto3; from labs import sandbox; print(sandbox.start().mode);"
        "sqs = boto3.client('sqs'); sqs.create_queue(QueueName='q');"
        "print(sqs.list_queues()['QueueUrls'][0]);"
        "print(boto3.Session().get_credentials().access_key, boto3.Session().region_name)",
        **REAL_LOOKING, AWS_ENDPOINT_URL="https://sqs.us-west-2.amazonaws.com")
    assert result.returncode == 0, result.stderr
    mode, url, creds = result.stdout.split("\n")[:3]
    assert mode == "in-process"
    assert url.startswith("https://sqs.ap-northeast-1.amazonaws.com/123456789012/")
    key, region = creds.split()
    assert key in ("testing", "FOOBARKEY") and region == "ap-northeast-1"  # moto's mock sets FOOBARKEY


@pytest.mark.parametrize("endpoint", ["https://sqs.ap-northeast-1.amazonaws.com", "http://10.0.0.5:4566",
                                      "http://example.com:5000"])
def test_non_loopback_endpoint_is_refused_before_any_request(endpoint):
    result = run_python(
        "from labs import sandbox\n"
        "try:\n    sandbox.start()\nexcept sandbox.SandboxRefused as e:\n    print('REFUSED', e)\n",
        **REAL_LOOKING, LABS_ENDPOINT_URL=endpoint)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("REFUSED")
    assert "LABS_REAL_AWS=1" in result.stdout and "リクエストは送信していません" in result.stdout


def test_real_aws_only_with_explicit_opt_in():
    result = run_python("from labs import sandbox; print(sandbox.start().mode)", LABS_REAL_AWS="1")
    assert result.stdout.strip() == "real-aws"


def test_shared_server_is_seen_by_notebooks_and_the_aws_cli(shared_server):
    created = run_python(
        "from labs import sandbox; from labs.sandbox import provision; print(sandbox.start().mode); provision.ensure_queue('shared-q')",
        LABS_ENDPOINT_URL=shared_server, **REAL_LOOKING)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "server"
    cli = subprocess.run(
        [str(BIN / "aws"), "--endpoint-url", shared_server, "--region", "ap-northeast-1", "sqs", "list-queues"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    assert cli.returncode == 0, cli.stderr
    assert any(u.endswith("/shared-q") for u in json.loads(cli.stdout)["QueueUrls"])
    reset = subprocess.run([sys.executable, "-m", "labs", "sandbox", "reset"], capture_output=True, text=True,
                           env={**os.environ, "LABS_ENDPOINT_URL": shared_server}, cwd=ROOT, timeout=60)
    assert reset.returncode == 0, reset.stderr
    after = run_python("from labs import sandbox; print(sandbox.client('sqs').list_queues().get('QueueUrls', []))",
                       LABS_ENDPOINT_URL=shared_server)
    assert after.stdout.strip() == "[]"


def test_shared_server_executes_step_functions(shared_server):
    code = """
import json, time
from labs import sandbox
sfn = sandbox.client('stepfunctions')
arn = sfn.create_state_machine(name='m', roleArn='arn:aws:iam::123456789012:role/r',
    definition=json.dumps({'StartAt': 'P', 'States': {'P': {'Type': 'Pass', 'Result': {'ok': 1}, 'End': True}}}))['stateMachineArn']
ex = sfn.start_execution(stateMachineArn=arn)['executionArn']
for _ in range(100):
    d = sfn.describe_execution(executionArn=ex)
    if d['status'] != 'RUNNING': break
    time.sleep(0.05)
print(d['status'], d.get('output'))
"""
    result = run_python(code, LABS_ENDPOINT_URL=shared_server)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "SUCCEEDED"


def test_current_only_looks_and_start_starts():
    result = run_python(
        "import os, sys\nfrom labs import sandbox\n"
        "try:\n    sandbox.current()\nexcept sandbox.SandboxNotStarted as e:\n    print('NOT STARTED', e)\n"
        "print('moto' in sys.modules, 'LABS_SANDBOX' in os.environ)\n"
        "print(sandbox.start() is sandbox.current(), sandbox.current().mode)")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("NOT STARTED") and "sandbox.start()" in lines[0]
    assert lines[-2:] == ["False False", "True in-process"]  # looking started nothing


def test_sandbox_client_is_the_course_codes_client():
    from labs import sandbox
    from labs.course import aws

    assert sandbox.client("sqs") is aws.client("sqs")
    assert sandbox.resource("dynamodb") is aws.resource("dynamodb")


MAKE_ONE_OF_EACH = """
import json
from labs import sandbox
from labs.sandbox import provision
sandbox.start()
queue = provision.ensure_queue("mine-q", dead_letter_queue="mine-dlq")
topic = provision.ensure_topic("mine-topic")
provision.ensure_subscription(topic, queue)
provision.ensure_bus("mine-bus")
provision.ensure_rule("mine-bus", "mine-rule", event_pattern={"source": ["mine"]}, queue_url=queue)
sandbox.client("events").create_archive(ArchiveName="mine-archive", EventSourceArn=provision.ensure_bus("mine-bus"))
sandbox.client("dynamodb").create_table(TableName="mine-table", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
sandbox.client("stepfunctions").create_state_machine(name="mine-machine", roleArn="arn:aws:iam::123456789012:role/r",
    definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
sandbox.client("kinesis").create_stream(StreamName="mine-stream", ShardCount=1)
sandbox.reset()
"""

WHAT_IS_THERE = """
from labs import sandbox
c = sandbox.client
print(sorted(u.rsplit("/", 1)[-1] for u in c("sqs").list_queues().get("QueueUrls", [])))
print(sorted(t["TopicArn"].rsplit(":", 1)[-1] for t in c("sns").list_topics()["Topics"]))
print(len(c("sns").list_subscriptions()["Subscriptions"]))
print(sorted(b["Name"] for b in c("events").list_event_buses()["EventBuses"]))
print(sorted(a["ArchiveName"] for a in c("events").list_archives()["Archives"]))
print(sorted(c("dynamodb").list_tables()["TableNames"]))
print(sorted(m["name"] for m in c("stepfunctions").list_state_machines()["stateMachines"]))
print(sorted(c("kinesis").list_streams()["StreamNames"]))
"""


def test_a_notebook_reset_on_a_shared_server_removes_only_what_it_made_and_says_so(shared_server):
    other = run_python("from labs import sandbox; from labs.sandbox import provision; sandbox.start()\n"
                       "provision.ensure_queue('other-q'); provision.ensure_table('other-table', 'k')",
                       LABS_ENDPOINT_URL=shared_server)
    assert other.returncode == 0, other.stderr
    mine = run_python(MAKE_ONE_OF_EACH, LABS_ENDPOINT_URL=shared_server)
    assert mine.returncode == 0, mine.stderr
    assert "このノートブック (プロセス) が作った 10 個を消しました" in mine.stdout and "force=True" in mine.stdout
    left = run_python(WHAT_IS_THERE, LABS_ENDPOINT_URL=shared_server)
    assert left.stdout.splitlines() == ["['other-q']", "[]", "0", "['default']", "[]", "['other-table']", "[]", "[]"]
    forced = run_python("from labs import sandbox; sandbox.reset(force=True)\n" + WHAT_IS_THERE,
                        LABS_ENDPOINT_URL=shared_server)
    assert forced.stdout.splitlines()[0] == "[]" and forced.stdout.splitlines()[5] == "[]"  # everything, the others' too


def test_the_server_stopping_mid_run_is_said_in_japanese_with_how_to_restart(shared_server_process):
    code = """
import os, signal, socket, time
from labs import sandbox
from labs.sandbox import provision
sandbox.start()
provision.ensure_queue("q")
os.kill(int(os.environ["SERVER_PID"]), signal.SIGTERM)
port = int(sandbox.current().endpoint_url.rsplit(":", 1)[1])
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        time.sleep(0.1)
    except OSError:
        break
try:
    sandbox.client("sqs").list_queues()
except sandbox.SandboxUnavailable as error:
    print("UNAVAILABLE", error)
"""
    result = run_python(code, LABS_ENDPOINT_URL=shared_server_process.url, SERVER_PID=str(shared_server_process.process.pid))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("UNAVAILABLE 共有サンドボックス")
    port = shared_server_process.url.rsplit(":", 1)[1]
    assert f"python -m labs sandbox serve --port {port}" in result.stdout and "The shared sandbox" in result.stdout


def test_the_aws_cli_line_the_server_prints_works_as_shown_without_any_aws_configuration(shared_server_process, tmp_path):
    made = run_python("from labs import sandbox; from labs.sandbox import provision; provision.ensure_queue('cli-q')",
                      LABS_ENDPOINT_URL=shared_server_process.url)
    assert made.returncode == 0, made.stderr
    line = shared_server_process.printed_line("AWS CLI:")
    command = line.removeprefix("AWS CLI:").strip()
    bare = {"HOME": str(tmp_path), "PATH": os.pathsep.join([str(BIN), "/usr/bin", "/bin"])}  # no ~/.aws, no AWS_*
    cli = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=bare, cwd=tmp_path, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert [u.rsplit("/", 1)[-1] for u in json.loads(cli.stdout)["QueueUrls"]] == ["cli-q"]
