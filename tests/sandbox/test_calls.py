"""Every AWS call of the process is told to the sandbox's listeners, whatever client made it."""
import boto3
import botocore.session
import pytest

from labs import sandbox
from labs.observe import recorder
from labs.sandbox import calls, provision


@pytest.fixture
def heard():
    seen = []
    sandbox.on_call("test", lambda service, operation, params, response: seen.append((service, operation)))
    yield seen
    calls.forget("test")


def test_calls_from_hand_made_sessions_are_heard_and_publishes_recorded(heard):
    url = provision.ensure_queue("q")
    botocore.session.Session().create_client("sqs").send_message(QueueUrl=url, MessageBody="a")
    boto3.Session().client("sqs").send_message(QueueUrl=url, MessageBody="b")
    assert heard[-2:] == [("sqs", "SendMessage"), ("sqs", "SendMessage")]
    assert [(r.source, r.target) for r in recorder.select(kind="publish")] == [("send_message", "q")] * 2


def test_a_before_listener_can_refuse_a_call_before_it_is_made(heard):
    url = provision.ensure_queue("q")

    def refuse(service, operation, params):
        if operation == "SendMessage":
            raise RuntimeError("refused")

    sandbox.on_call("test-refuse", before=refuse)
    try:
        with pytest.raises(RuntimeError, match="refused"):
            boto3.client("sqs").send_message(QueueUrl=url, MessageBody="x")
    finally:
        calls.forget("test-refuse")
    depth = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert ("sqs", "SendMessage") not in heard and recorder.select(kind="publish") == []
