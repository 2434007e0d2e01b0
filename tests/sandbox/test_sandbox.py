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
