"""labs.course.consumers.sqs: both consumers report the same failures, on hand-made and real batches."""
import json

from hypothesis import given, settings, strategies as st
from aws_lambda_powertools.utilities.parser.models import SqsModel

from labs import sandbox
from labs.sandbox import provision
from labs.course.consumers.sqs import lambda_handler, powertools_handler
from labs.course.envelopes import sns_message
from labs.observe import recorder
from labs.course.producers.sns import publish_to_sns
from labs.runtime import LocalRuntime
from labs.runtime import shapes
from labs.workbook.exercises.lesson02 import _envelope, _record, check_batch


def test_the_consumer_tells_an_envelope_by_its_type_not_by_a_message_key():
    domain = {"event_type": "OrderCreated", "order": {"order_id": "A"}, "Message": "置き配"}
    assert sns_message(json.dumps(domain)) == domain
    assert sns_message(json.dumps(_envelope(domain))) == domain


def test_only_the_failed_records_are_reported_and_both_consumers_agree(capsys):
    event, wanted = check_batch()
    expected = {"batchItemFailures": [{"itemIdentifier": i} for i in wanted]}
    assert lambda_handler(event, None) == expected
    assert powertools_handler(event, None) == expected
    assert "m-unknown-type" in capsys.readouterr().out  # the reason is logged


def test_success_is_an_empty_failure_list_not_a_status_code():
    event, _ = check_batch()
    ok = {"Records": event["Records"][:3]}
    assert lambda_handler(ok, None) == powertools_handler(ok, None) == {"batchItemFailures": []}


def test_when_every_record_fails_both_report_every_record():
    event = {"Records": [_record(f"bad-{i}", {"event_type": "Nope"}) for i in range(3)]}
    expected = {"batchItemFailures": [{"itemIdentifier": f"bad-{i}"} for i in range(3)]}
    assert lambda_handler(event, None) == powertools_handler(event, None) == expected


messages = st.one_of(
    st.fixed_dictionaries({"event_type": st.sampled_from(["OrderCreated", "OrderShipped", "Bogus"]),
                           "order": st.fixed_dictionaries({"order_id": st.sampled_from(["", "A-1"])})}),
    st.text(max_size=20),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(messages, st.booleans()), min_size=1, max_size=10))
def test_both_consumers_agree_on_any_batch(batch):
    records = []
    for i, (message, enveloped) in enumerate(batch):
        body = message if isinstance(message, str) else (_envelope(message) if enveloped else message)
        records.append(_record(f"m-{i}", body))
    event = {"Records": records}
    assert lambda_handler(event, None) == powertools_handler(event, None)


def test_on_a_real_queue_only_the_failed_message_comes_back():
    topic = provision.ensure_topic("order-events")
    queue = provision.ensure_queue("inventory-queue", dead_letter_queue="inventory-dlq", max_receive_count=3)
    provision.ensure_subscription(topic, queue)
    for order_id in ("A-1", "A-2"):
        publish_to_sns(topic, {"event_type": "OrderCreated", "order": {"order_id": order_id}})
    publish_to_sns(topic, {"event_type": "OrderExploded", "order": {"order_id": "A-3"}})
    seen = []

    def spy(event, context):
        SqsModel(**event)  # the event is what Lambda would hand over
        seen.append(event)
        return lambda_handler(event, context)

    runtime = LocalRuntime()
    runtime.on_queue(queue, spy, function_name="inventory")
    assert runtime.deliver_due() == 1
    assert runtime.parked == 1  # only the bad one waits out its visibility timeout
    assert powertools_handler(seen[0], None) == lambda_handler(seen[0], None)
    runtime.run_until_quiet()
    dlq = sandbox.client("sqs").get_queue_url(QueueName="inventory-dlq")["QueueUrl"]
    moved = sandbox.client("sqs").receive_message(QueueUrl=dlq).get("Messages", [])
    assert [json.loads(json.loads(m["Body"])["Message"])["order"]["order_id"] for m in moved] == ["A-3"]
    assert [r.outcome for r in recorder.select(kind="invoke")] == ["partial", "partial", "partial"]
