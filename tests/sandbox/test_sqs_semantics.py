"""The SQS depth mend (labs/sandbox/mends/sqs_queue_depth.py) keeps moto's semantics.

Every test here runs twice: on bare moto 5.2.5 and on the mended sandbox. A test passes on
both or the mend is not faithful. Cases about AWS behaviour cite the AWS documentation;
cases marked "moto's behaviour" pin what moto does (and the mend must keep), where AWS differs.
The last test drives both with the same random sequence of operations and compares every answer.
"""
import json
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labs import sandbox
from labs.sandbox.mends import sqs_queue_depth

DOCS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
ATTRIBUTES_API = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html"
COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]


def _use(mode: str) -> None:
    sandbox.reset()  # no queue outlives the switch: each is made and read by one implementation
    if mode == "mended":
        sqs_queue_depth.apply()
    else:
        sqs_queue_depth.undo()


@pytest.fixture(params=["bare", "mended"])
def sqs(request):
    _use(request.param)
    try:
        yield sandbox.client("sqs")
    finally:
        _use("mended")  # the sandbox's normal state


def counts(sqs, url) -> tuple[int, int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return tuple(int(attributes[name]) for name in COUNTS)


def send(sqs, url, *bodies, **extra):
    return [sqs.send_message(QueueUrl=url, MessageBody=body, **extra)["MessageId"] for body in bodies]


def receive(sqs, url, n=10, **extra):
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n, MessageSystemAttributeNames=["All"],
                               **extra).get("Messages", [])


def bodies(messages):
    return [m["Body"] for m in messages]


def test_counts_follow_send_receive_and_delete(sqs):
    # ApproximateNumberOfMessages / ...NotVisible (in flight) / ...Delayed: ATTRIBUTES_API
    url = sqs.create_queue(QueueName="counts")["QueueUrl"]
    send(sqs, url, *[f"m{i}" for i in range(5)])
    assert counts(sqs, url) == (5, 0, 0)
    taken = receive(sqs, url, 2, VisibilityTimeout=30)
    assert len(taken) == 2 and counts(sqs, url) == (3, 2, 0)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=taken[0]["ReceiptHandle"])
    assert counts(sqs, url) == (3, 1, 0)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"] == {"ApproximateNumberOfMessages": "3"}


def test_a_deep_queue_hands_out_every_message_once_in_send_order(sqs):
    # moto's behaviour: a standard queue answers in send order, exactly once (AWS: best effort,
    # at least once, DOCS + "standard-queues.html"); the lessons' ExactDelivery relies on it.
    url = sqs.create_queue(QueueName="deep")["QueueUrl"]
    for start in range(0, 300, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": str(start + i)} for i in range(10)])
    seen = []
    while batch := receive(sqs, url):
        seen += bodies(batch)
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    assert seen == [str(i) for i in range(300)]
    assert counts(sqs, url) == (0, 0, 0)


def test_visibility_timeout_and_delay_end_on_the_clock(sqs):
    # DOCS + "sqs-visibility-timeout.html": a received message is invisible until the timeout ends,
    # then received again with ApproximateReceiveCount 2. DOCS + "sqs-message-timers.html":
    # DelaySeconds keeps a new message invisible (counted as Delayed) for that long.
    url = sqs.create_queue(QueueName="clock")["QueueUrl"]
    send(sqs, url, "soon")
    send(sqs, url, "late", DelaySeconds=1)
    first = receive(sqs, url, VisibilityTimeout=1)
    assert bodies(first) == ["soon"]
    assert counts(sqs, url) == (0, 1, 1)
    assert receive(sqs, url) == []
    time.sleep(1.2)
    assert counts(sqs, url) == (2, 0, 0)
    again = receive(sqs, url, VisibilityTimeout=30)
    assert bodies(again) == ["soon", "late"]  # back in its place, ahead of the later message
    assert [m["Attributes"]["ApproximateReceiveCount"] for m in again] == ["2", "1"]


def test_change_message_visibility_releases_and_hides(sqs):
    # DOCS + "sqs-visibility-timeout.html": ChangeMessageVisibility 0 makes it visible at once.
    url = sqs.create_queue(QueueName="visibility")["QueueUrl"]
    send(sqs, url, "a", "b")
    a, b = receive(sqs, url, VisibilityTimeout=30)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=b["ReceiptHandle"], VisibilityTimeout=0)
    assert counts(sqs, url) == (1, 1, 0)
    result = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "ReceiptHandle": a["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "bad", "ReceiptHandle": "not-a-handle", "VisibilityTimeout": 0}])
    assert [e["Id"] for e in result["Successful"]] == ["ok"]
    assert [(e["Id"], e["Code"]) for e in result["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    assert bodies(receive(sqs, url, VisibilityTimeout=30)) == ["a", "b"]
    with pytest.raises(sqs.exceptions.ClientError, match="ReceiptHandleIsInvalid"):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="not-a-handle", VisibilityTimeout=0)


def test_delete_twice_is_fine_and_a_bad_handle_is_refused(sqs):
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html
    # (ReceiptHandleIsInvalid: "The specified receipt handle isn't valid.")
    url = sqs.create_queue(QueueName="delete")["QueueUrl"]
    send(sqs, url, "x")
    (message,) = receive(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    result = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "0", "ReceiptHandle": "nope"}])
    assert [e["Code"] for e in result["Failed"]] == ["ReceiptHandleIsInvalid"]
    assert counts(sqs, url) == (0, 0, 0)


def test_redrive_moves_a_message_after_max_receive_count(sqs):
    # DOCS + "sqs-dead-letter-queues.html": when ReceiveCount exceeds maxReceiveCount, SQS moves
    # the message to the DLQ. moto's behaviour: the move happens on the receive after the last
    # allowed one, and the count continues in the DLQ (MOTO_GAPS, lesson 03).
    dlq = sqs.create_queue(QueueName="redrive-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="redrive", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    send(sqs, url, "poison", "fine")
    for attempt in (1, 2):
        poison = receive(sqs, url, 1, VisibilityTimeout=30)[0]
        assert poison["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=poison["ReceiptHandle"], VisibilityTimeout=0)
    assert bodies(receive(sqs, url, VisibilityTimeout=30)) == ["fine"]
    assert counts(sqs, url) == (0, 1, 0) and counts(sqs, dlq) == (1, 0, 0)
    (moved,) = receive(sqs, dlq)
    assert moved["Body"] == "poison" and moved["Attributes"]["ApproximateReceiveCount"] == "3"
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]


def test_fifo_groups_wait_for_their_messages_in_flight(sqs):
    # DOCS + "FIFO-queues-understanding-logic.html": several messages of one group may come in
    # one call; later calls get no more of that group until those are deleted or visible again.
    url = sqs.create_queue(QueueName="groups.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for body, group in (("a1", "a"), ("a2", "a"), ("b1", "b"), ("a3", "a"), ("b2", "b")):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    first = receive(sqs, url, 2, VisibilityTimeout=30)
    assert bodies(first) == ["a1", "a2"]
    assert bodies(receive(sqs, url, 1, VisibilityTimeout=30)) == ["b1"]
    assert receive(sqs, url, VisibilityTimeout=30) == []  # both groups have a message in flight
    for message in first:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    (a3,) = receive(sqs, url, VisibilityTimeout=30)
    assert a3["Body"] == "a3" and a3["Attributes"]["MessageGroupId"] == "a"
    assert counts(sqs, url) == (1, 2, 0)


def test_fifo_deduplication_within_five_minutes(sqs):
    # DOCS + "FIFO-queues-exactly-once-processing.html": a message with a deduplication ID already
    # sent in the last 5 minutes is accepted but not delivered; content-based dedup hashes the body.
    url = sqs.create_queue(QueueName="dedup.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    first = sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g", MessageDeduplicationId="d1")
    sqs.send_message(QueueUrl=url, MessageBody="one again", MessageGroupId="g", MessageDeduplicationId="d1")
    sqs.send_message(QueueUrl=url, MessageBody="two", MessageGroupId="g", MessageDeduplicationId="d2")
    assert first["MessageId"]
    assert counts(sqs, url) == (2, 0, 0)
    cbd = sqs.create_queue(QueueName="cbd.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for body in ("same", "same", "other"):
        sqs.send_message(QueueUrl=cbd, MessageBody=body, MessageGroupId="g")
    assert bodies(receive(sqs, cbd)) == ["same", "other"]


def test_long_polling_returns_a_message_sent_meanwhile(sqs):
    # DOCS + "sqs-short-and-long-polling.html": a long poll returns as soon as a message arrives.
    url = sqs.create_queue(QueueName="long-poll")["QueueUrl"]
    timer = threading.Timer(0.3, lambda: send(sqs, url, "late"))
    timer.start()
    try:
        got = receive(sqs, url, WaitTimeSeconds=5)
    finally:
        timer.join()
    assert bodies(got) == ["late"]


def test_purge_empties_the_queue_in_flight_too(sqs):
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_PurgeQueue.html
    # ("Deletes available messages in a queue (including in-flight messages)")
    url = sqs.create_queue(QueueName="purge", Attributes={"DelaySeconds": "60"})["QueueUrl"]
    send(sqs, url, "delayed by the queue")
    send(sqs, url, "now", DelaySeconds=0)
    (now,) = receive(sqs, url, VisibilityTimeout=30)
    assert counts(sqs, url) == (0, 1, 1)
    sqs.purge_queue(QueueUrl=url)
    assert counts(sqs, url) == (0, 0, 0)
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=now["ReceiptHandle"])
    send(sqs, url, "after", DelaySeconds=0)
    assert bodies(receive(sqs, url)) == ["after"]


def test_attributes_and_message_attributes_come_back(sqs):
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html
    url = sqs.create_queue(QueueName="attrs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "order"}, "other": {"DataType": "Number", "StringValue": "1"}})
    (message,) = receive(sqs, url, MessageAttributeNames=["kind"])
    assert message["MessageAttributes"] == {"kind": {"DataType": "String", "StringValue": "order"}}
    assert {"SenderId", "SentTimestamp", "ApproximateReceiveCount",
            "ApproximateFirstReceiveTimestamp"} <= set(message["Attributes"])


# --- the same random operations, on both, compared answer by answer --------------------------------

OPERATIONS = st.lists(st.tuples(
    st.sampled_from(["send", "send_delayed", "receive", "receive_keep", "delete", "release", "counts"]),
    st.integers(0, 9), st.integers(1, 10)), min_size=1, max_size=40)


def replay(mode: str, operations, fifo: bool) -> list:
    """Run ``operations`` on a fresh queue (with a DLQ, maxReceiveCount 2) and return every answer."""
    _use(mode)
    sqs = sandbox.client("sqs")
    suffix = ".fifo" if fifo else ""
    fifo_attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
    dlq = sqs.create_queue(QueueName="replay-dlq" + suffix, Attributes=fifo_attributes)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="replay" + suffix, Attributes={**fifo_attributes, "RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    handles, answers, sent = [], [], 0
    for operation, pick, n in operations:
        if operation.startswith("send"):
            extra = {"MessageGroupId": f"g{pick % 3}"} if fifo else \
                {"DelaySeconds": 900 if operation == "send_delayed" else 0}
            sqs.send_message(QueueUrl=url, MessageBody=f"m{sent}-{pick % 4}", **extra)
            sent += 1
        elif operation.startswith("receive"):
            got = receive(sqs, url, n, VisibilityTimeout=0 if operation == "receive_keep" else 600)
            handles += [m["ReceiptHandle"] for m in got]
            answers.append([(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in got])
        elif operation in ("delete", "release") and handles:
            handle = handles[pick % len(handles)]
            try:
                if operation == "delete":
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
                else:
                    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
                answers.append("ok")
            except sqs.exceptions.ClientError as error:
                answers.append(error.response["Error"]["Code"])
        answers.append((counts(sqs, url), counts(sqs, dlq)))
    return answers


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS, fifo=st.booleans())
def test_bare_and_mended_answer_the_same_random_operations(operations, fifo):
    try:
        assert replay("mended", operations, fifo) == replay("bare", operations, fifo)
    finally:
        _use("mended")
