"""labs.course.consumers.dlq: one row and one alert per dead-lettered message, even when SQS delivers twice."""
import json
from datetime import datetime

from aws_lambda_powertools.utilities.parser.models import SqsModel

from labs import sandbox
from labs.sandbox import provision
from labs.course.consumers import dlq
from labs.workbook.exercises.lesson03 import _dlq_record
from tests.course.helpers import dead_letter_through_the_handler, failed_rows


def _world():
    alerts = provision.ensure_topic("alerts")
    inbox = provision.ensure_queue("alerts-inbox")
    provision.ensure_subscription(alerts, inbox, raw=True)
    provision.ensure_table("failed-messages", "message_id")
    return inbox


def _alerts(inbox):
    messages = sandbox.client("sqs").receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_a_row_and_an_alert_per_message(capsys):
    inbox = _world()
    body = json.dumps({"event_type": "OrderCreated", "order": {"order_id": "X", "note": "あ" * 300}}, ensure_ascii=False)
    event = {"Records": [_dlq_record("m-1", body, "4"), _dlq_record("m-2", "{}", "7")]}
    SqsModel(**event)
    assert dlq.lambda_handler(event, None) == {"batchItemFailures": []}
    rows = failed_rows()
    assert set(rows) == {"m-1", "m-2"}
    row = rows["m-1"]
    assert row["receive_count"] == 4 and rows["m-2"]["receive_count"] == 7
    assert row["status"] == "pending_review"
    assert datetime.fromisoformat(row["failed_at"]).utcoffset() is not None
    assert row["body"] == body and row["body_preview"] == body[:200] and len(row["body_preview"]) == 200
    assert row["dlq_arn"].endswith(":check-03-dlq")
    assert json.loads(row["message_attributes"])["priority"]["stringValue"] == "high"
    assert row["alerted"] is True
    alerts = _alerts(inbox)
    assert sorted(a["message_id"] for a in alerts) == ["m-1", "m-2"]
    first = next(a for a in alerts if a["message_id"] == "m-1")
    assert first == {"title": "DLQ Message Alert", "message_id": "m-1", "receive_count": 4, "body_preview": body[:200]}
    assert "DLQ message processed: m-1" in capsys.readouterr().out


def test_a_second_delivery_neither_duplicates_the_row_nor_the_alert():
    inbox = _world()
    event = {"Records": [_dlq_record("m-1", "{}", "4")]}
    dlq.lambda_handler(event, None)
    first_row = failed_rows()["m-1"]
    again = {"Records": [_dlq_record("m-1", "{}", "5")]}
    assert dlq.lambda_handler(again, None) == {"batchItemFailures": []}
    assert failed_rows()["m-1"] == first_row  # failed_at and receive_count of the first sighting
    assert len(_alerts(inbox)) == 1


def test_a_failed_alert_is_retried_and_sent_once_it_works(monkeypatch):
    inbox = _world()
    calls = []

    def broken(*args):
        calls.append(args)
        raise ConnectionError("SNS に届きません")

    monkeypatch.setattr(dlq, "send_alert", broken)
    event = {"Records": [_dlq_record("m-1", "{}", "4"), _dlq_record("m-2", "{}", "4")]}
    assert dlq.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}
    assert failed_rows()["m-1"]["alerted"] is False
    monkeypatch.undo()
    assert dlq.lambda_handler(event, None) == {"batchItemFailures": []}
    assert len(_alerts(inbox)) == 2


def test_on_the_runtime_the_dlq_handler_empties_the_dlq_into_the_table():
    _world()
    source = provision.ensure_queue("points-queue", dead_letter_queue="points-dlq", max_receive_count=3)
    dead = provision.ensure_queue("points-dlq")
    sandbox.client("sqs").send_message(QueueUrl=source, MessageBody='{"order": 1}')
    [row] = dead_letter_through_the_handler(source, dead).values()
    assert row["body"] == '{"order": 1}' and row["receive_count"] >= 4
    depth = sandbox.client("sqs").get_queue_attributes(QueueUrl=dead, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "0"
