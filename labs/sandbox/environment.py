"""The environment variables a sandbox sets: for this process's clients, and for the processes it starts.

Every sandbox forces region ap-northeast-1 and fake credentials, so a plain
``boto3.client('sqs')`` in a notebook cell (as the course text writes it) reaches the sandbox,
even when the learner's machine holds real credentials or a profile. Processes started from
the kernel inherit these, plus what puts the network guard into them (``LABS_SANDBOX``, and
``subprocess_site`` on PYTHONPATH) and where the sandbox answers (``LABS_SANDBOX_URL``).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from labs.course.names import REGION

FAKE = {
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
DROPPED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
SUBPROCESS_SITE = Path(__file__).resolve().parent / "subprocess_site"


def use_fake_credentials(endpoint_url: str | None) -> None:
    """Fake credentials and the course's region for every client made from now on."""
    for name in DROPPED:
        os.environ.pop(name, None)
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    os.environ.update(FAKE)
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url  # every boto3 client, the learner's too


def guard_subprocesses(mode: str, sandbox_url: str | None) -> None:
    """Processes started from now on (``!python``, ``!aws``) get the guard and find the sandbox."""
    os.environ["LABS_SANDBOX"] = mode
    if sandbox_url:
        os.environ["LABS_SANDBOX_URL"] = sandbox_url
    _put_first("PYTHONPATH", str(SUBPROCESS_SITE))
    if sys.prefix != sys.base_prefix:  # in a venv: ``!aws`` and ``!python`` in a cell are the venv's
        _put_first("PATH", str(Path(sys.executable).parent))


def _put_first(variable: str, entry: str) -> None:
    entries = [e for e in os.environ.get(variable, "").split(os.pathsep) if e and e != entry]
    os.environ[variable] = os.pathsep.join([entry, *entries])
