"""The ledger reads every figure back from the sandbox and the recorder, and it notices
when a message is lost, still in flight, in the DLQ, or applied twice."""
import json

import boto3

from labs.devtools import chaos
from labs.observe import ledger
from labs.sandbox import provision
from labs.runtime.delivery import RealisticDelivery
from labs.runtime.faults import Faults
from labs.observe import recorder
from labs.runtime import LocalRuntime


def world(handler_faults=None, delivery=None, idempotent=True, handler=None):
    topic, queue = chaos.build_world()
    runtime = LocalRuntime(delivery=delivery)
    runtime.on_queue(queue, handler or chaos.make_handler(chaos.TABLE, handler_faults or Faults(), idempotent),
                     function_name="inventory")
    return topic, queue, runtime


def take(queue):
    return ledger.take(published_to=chaos.TOPIC, queue_url=queue, effects_table=chaos.TABLE)


def test_a_clean_run_balances():
    topic, queue, runtime = world()
    chaos.publish_orders(topic, 0, 25)
    runtime.run_until_quiet()
    result = take(queue)
    assert result == ledger.Ledger(published=25, processed=25, duplicates=0, dlq=0, in_flight=0, lost=0,
                                   double_effects=0)
    assert result.ok


def test_messages_not_yet_consumed_are_in_flight_not_lost():
    topic, queue, runtime = world()
    chaos.publish_orders(topic, 0, 12)
    runtime.deliver_due()  # one batch of 10 only
    result = take(queue)
    assert (result.processed, result.in_flight, result.lost) == (10, 2, 0)


def test_poison_messages_are_counted_in_the_dlq_by_business_key():
    topic, queue, runtime = world(Faults(poison={"order-000003", "order-000004"}))
    chaos.publish_orders(topic, 0, 10)
    runtime.run_until_quiet()
    result = take(queue)
    assert (result.processed, result.dlq, result.lost) == (8, 2, 0)
    assert take(queue).dlq == 2  # peeking left the DLQ as it was


def test_a_handler_that_swallows_messages_loses_them_and_the_ledger_says_so():
    def careless(event, context):  # reports success without doing the work
        return {"batchItemFailures": []}

    topic, queue, runtime = world(handler=careless)
    chaos.publish_orders(topic, 0, 5)
    runtime.run_until_quiet()
    result = take(queue)
    assert result.lost == 5 and not result.ok


def test_a_message_deleted_by_hand_is_lost():
    topic, queue, runtime = world()
    chaos.publish_orders(topic, 0, 3)
    sqs = boto3.client("sqs")
    message = sqs.receive_message(QueueUrl=queue)["Messages"][0]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    runtime.run_until_quiet()
    assert take(queue).lost == 1


def test_duplicates_are_absorbed_by_an_idempotent_consumer():
    topic, queue, runtime = world(delivery=RealisticDelivery(seed=2, duplicate_rate=0.5))
    chaos.publish_orders(topic, 0, 30)
    runtime.run_until_quiet()
    result = take(queue)
    assert result.duplicates > 5 and result.double_effects == 0 and result.ok


def test_duplicates_hit_a_consumer_that_is_not_idempotent_twice():
    topic, queue, runtime = world(delivery=RealisticDelivery(seed=2, duplicate_rate=0.5), idempotent=False)
    chaos.publish_orders(topic, 0, 30)
    runtime.run_until_quiet()
    result = take(queue)
    assert result.double_effects > 0 and not result.ok
    assert result.lost == 0  # nothing lost: applied too often is a different failure


def test_failed_publish_entries_are_not_counted_as_published():
    recorder.record("publish", "publish_batch", "t", "partial", 10, "2 件失敗", failed=2)
    recorder.record("publish", "publish", "t", "error", 1, "InternalError", failed=1)
    recorder.record("publish", "publish", "t", "ok", 1)
    assert ledger.count_published("t") == 9


def test_business_key_reads_raw_sns_and_eventbridge_bodies_and_refuses_garbage():
    order = {"order_id": "o-1"}
    assert ledger.business_key(json.dumps(order), "order_id") == "o-1"
    assert ledger.business_key(json.dumps({"Type": "Notification", "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:t", "Message": json.dumps(order)}), "order_id") == "o-1"
    assert ledger.business_key(json.dumps({"detail-type": "OrderCreated", "detail": order}), "order_id") == "o-1"
    assert ledger.business_key("not json", "order_id") is None
    assert ledger.business_key("[1, 2]", "order_id") is None
    assert ledger.business_key(json.dumps({"Type": "Notification", "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:t", "Message": "{broken"}), "order_id") is None


def test_unreadable_dead_letters_are_counted_one_by_one():
    url = provision.ensure_queue("orders", dead_letter_queue="orders-dlq", max_receive_count=1)
    provision.ensure_table("effects", "order_id")
    runtime = LocalRuntime()
    runtime.on_queue(url, lambda event, context: 1 / 0, function_name="f")
    sqs = boto3.client("sqs")
    for body in ("not json", "not json either"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    runtime.run_until_quiet()
    result = ledger.take(published_to="orders", queue_url=url, effects_table="effects")
    assert (result.published, result.dlq, result.lost) == (2, 2, 0)


def test_ledgers_add_up_and_read_in_japanese():
    one = ledger.Ledger(3, 2, 1, 1, 0, 0, 0)
    assert (one + one).line() == "published=6 processed=4 duplicates=2 dlq=2 in_flight=0 lost=0 double_effects=0"
    text = repr(one.table())
    assert "消失" in text and "二重の副作用" in text
