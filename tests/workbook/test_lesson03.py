"""Lesson 03: each section starts from the state it builds on, and exercise 03-4's check names
the cause of each wrong answer and proves its consequence in the sandbox."""
import json

import pytest

from labs import sandbox
from labs.course.producers.sns import notify_order_created
from labs.observe.queues import depth, drain_bodies
from labs.sandbox import provision
from labs.workbook import checks
from labs.workbook.exercises import lesson03 as exercise
from labs.workbook.lessons import lesson03


def test_empty_points_queues_leaves_nothing_behind_and_keeps_the_topic_delivering():
    topic = provision.ensure_topic("order-events")
    queue_url, dlq_url = lesson03.empty_points_queues(exercise.create_queue_with_dlq, topic)
    sqs = sandbox.client("sqs")
    sqs.send_message(QueueUrl=queue_url, MessageBody="left over")
    sqs.send_message(QueueUrl=dlq_url, MessageBody="left over")
    sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=600)  # in flight: deleted with the queue too

    assert lesson03.empty_points_queues(exercise.create_queue_with_dlq, topic) == (queue_url, dlq_url)
    assert depth(queue_url) == depth(dlq_url) == 0
    redrive = json.loads(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
                         ["Attributes"]["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": provision.queue_arn(dlq_url), "maxReceiveCount": 3}
    notify_order_created({"order_id": "ORD-1", "amount": 100})
    assert [body["order"]["order_id"] for body in drain_bodies(queue_url)] == ["ORD-1"]


def test_empty_alert_inbox_drops_earlier_alerts():
    inbox = lesson03.empty_alert_inbox()
    sandbox.client("sqs").send_message(QueueUrl=inbox, MessageBody="old alert")
    assert lesson03.empty_alert_inbox() == inbox and depth(inbox) == 0


def test_a_throttled_order_is_retried_within_max_receive_count_and_moved_after_it():
    # SQS moves a message to the DLQ once it was received maxReceiveCount times without a delete
    # (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
    dlq_url = provision.ensure_queue("trial-dlq")
    attributes = exercise.event_source_queue_attributes(30, dlq_url)
    assert lesson03.try_event_source_queue("trial", attributes, 30) == lesson03.Trial(processed=1, in_dlq=0)
    once = {**attributes, "RedrivePolicy": json.dumps({"deadLetterTargetArn": provision.queue_arn(dlq_url),
                                                       "maxReceiveCount": 1})}
    assert lesson03.try_event_source_queue("trial", once, 30) == lesson03.Trial(processed=0, in_dlq=1)
    # Run again, the trial starts from an empty queue and DLQ: the same story.
    assert lesson03.try_event_source_queue("trial", once, 30) == lesson03.Trial(processed=0, in_dlq=1)


def test_a_function_timeout_above_the_visibility_timeout_is_refused_as_aws_refuses_the_mapping():
    # "Lambda validates this requirement when you create or update an event source mapping and will
    # return an error if the function timeout exceeds the queue's visibility timeout"
    # (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
    dlq_url = provision.ensure_queue("trial-dlq")
    attributes = {**exercise.event_source_queue_attributes(60, dlq_url), "VisibilityTimeout": "30"}
    trial = lesson03.try_event_source_queue("trial", attributes, 60)
    assert "(60 秒)" in trial.refused and "(30 秒)" in trial.refused and trial.processed == 0


# Each named wrong answer of 03-4 fails for its own cause, said in Japanese.
CAUSES = {
    exercise._visibility_equals_timeout: "関数のタイムアウトと同じ",
    exercise._hard_coded_thirty: "イベントソースマッピングを作れません",
    exercise._ignores_batch_window: "バッチウィンドウ (20 秒) の分が足りません",
    exercise._receive_once: "スロットリングで 1 回処理できなかっただけの注文が DLQ に移りました",
    exercise._receive_three_times: "maxReceiveCount 3 では足りません",
    exercise._dlq_url_for_arn: "URL ではなく ARN",
    exercise._numbers_not_strings: "値はどれも文字列",
}


def test_every_wrong_answer_of_03_4_is_named_here():
    assert set(CAUSES) == set(checks.get("03.event_source_queue_attributes").wrong)


@pytest.mark.parametrize("wrong", list(CAUSES), ids=lambda f: f.__name__)
def test_each_wrong_answer_of_03_4_fails_naming_its_cause(wrong):
    outcome = checks.evaluate("03.event_source_queue_attributes", wrong)
    assert outcome.status == "failed" and CAUSES[wrong] in outcome.reason, outcome.reason
    assert any("event_source_queue_attributes(" in line for line in outcome.inputs)
