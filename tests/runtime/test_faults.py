"""Fault injection (labs.runtime.faults) and realistic delivery (labs.runtime.delivery): seeded,
reproducible, and each fault does to a pipeline what it does on AWS."""
import json

import boto3
import pytest

from labs.observe import ledger
from labs.sandbox import provision
from labs.devtools.chaos import make_handler
from labs.sandbox.clock import clock
from labs.runtime.delivery import ExactDelivery, QueueDelivery, RealisticDelivery
from labs.runtime.faults import CrashAfterPartialEffect, Faults, PoisonMessage, TransientFailure
from labs.observe import recorder
from labs.runtime import LocalRuntime


def outcomes(faults, keys, attempts=3):
    seen = []
    for key in keys:
        for _ in range(attempts):
            try:
                faults.start(key)
                faults.crash_point(key)
                seen.append("ok")
            except (TransientFailure, PoisonMessage, CrashAfterPartialEffect) as error:
                seen.append(type(error).__name__)
    return seen


KEYS = [f"order-{i}" for i in range(200)]


def test_same_seed_same_faults_different_seed_different_faults():
    make = lambda seed: Faults(seed=seed, failure_rate=0.3, poison_rate=0.05, crash_rate=0.1)
    assert outcomes(make(1), KEYS) == outcomes(make(1), KEYS)
    assert outcomes(make(1), KEYS) != outcomes(make(2), KEYS)


def test_decisions_do_not_depend_on_the_order_of_messages():
    forward = outcomes(Faults(seed=4, failure_rate=0.3, crash_rate=0.1), KEYS)
    backward = outcomes(Faults(seed=4, failure_rate=0.3, crash_rate=0.1), KEYS[::-1])
    per_key = lambda seen, keys: {k: seen[3 * i:3 * i + 3] for i, k in enumerate(keys)}
    assert per_key(forward, KEYS) == per_key(backward, KEYS[::-1])


def test_failure_rate_zero_never_fails_and_one_always_fails():
    assert set(outcomes(Faults(seed=1), KEYS)) == {"ok"}
    assert set(outcomes(Faults(seed=1, failure_rate=1.0), KEYS)) == {"TransientFailure"}


def test_failure_rate_is_roughly_the_rate_asked_for():
    seen = outcomes(Faults(seed=9, failure_rate=0.3), KEYS, attempts=5)
    assert 0.22 < seen.count("TransientFailure") / len(seen) < 0.38


def test_a_poison_message_fails_on_every_attempt_with_a_japanese_message():
    faults = Faults(seed=1, poison={"order-7"})
    for _ in range(5):
        with pytest.raises(PoisonMessage, match="処理できないメッセージ"):
            faults.start("order-7")
    faults.start("order-8")
    assert faults.injected["poison"] == 5


def test_poison_rate_picks_the_same_keys_every_time():
    picked = [k for k in KEYS if Faults(seed=3, poison_rate=0.1).is_poison(k)]
    assert picked == [k for k in KEYS if Faults(seed=3, poison_rate=0.1).is_poison(k)]
    assert 5 <= len(picked) <= 40


def test_slow_handler_takes_its_time_on_the_runtime_clock():
    faults = Faults(seed=1, slow_rate=1.0, slow_seconds=90)
    before = clock.now()
    faults.start("order-1")
    assert clock.now() - before >= 90
    assert faults.summary() == "failure=0 poison=0 crash=0 slow=1"


@pytest.mark.parametrize("name", ["failure_rate", "poison_rate", "crash_rate", "slow_rate"])
def test_a_rate_outside_0_to_1_is_refused_in_japanese(name):
    with pytest.raises(ValueError, match="0〜1"):
        Faults(**{name: 1.5})


# --- the faults in a pipeline -----------------------------------------------------------------

def pipeline(faults, delivery=None, visibility_timeout=30, idempotent=True):
    provision.ensure_table("stock", "order_id")
    url = provision.ensure_queue("orders", visibility_timeout=visibility_timeout,
                                 dead_letter_queue="orders-dlq", max_receive_count=3)
    runtime = LocalRuntime(delivery=delivery)
    runtime.on_queue(url, make_handler("stock", faults, idempotent), function_name="reserve")
    return url, runtime


def send_orders(url, *order_ids):
    sqs = boto3.client("sqs")
    for order_id in order_ids:  # the handler reads SNS envelopes, so send one
        # SNS's envelope always names its topic: https://docs.aws.amazon.com/sns/latest/dg/SendMessageToSQS.html
        envelope = {"Type": "Notification", "MessageId": order_id, "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:orders",
                    "Message": json.dumps({"order_id": order_id})}
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(envelope))


def item(order_id):
    return boto3.resource("dynamodb").Table("stock").get_item(Key={"order_id": order_id}).get("Item")


def account(url):
    return ledger.take(published_to="orders", queue_url=url, effects_table="stock")


def test_a_crash_after_a_partial_side_effect_is_retried_without_a_second_effect():
    faults = Faults(seed=1, crash_rate=1.0)
    url, runtime = pipeline(faults)
    send_orders(url, "order-1")
    runtime.deliver_due()
    assert item("order-1") == {"order_id": "order-1", "reserved": True}  # half done, then the crash
    faults.crash_rate = 0.0
    runtime.run_until_quiet()
    assert item("order-1")["applied"] == 1
    assert account(url).ok


def test_a_poison_message_ends_in_the_dlq_and_the_rest_go_through():
    url, runtime = pipeline(Faults(seed=1, poison={"order-2"}))
    send_orders(url, "order-1", "order-2", "order-3")
    runtime.run_until_quiet()
    result = account(url)
    assert (result.published, result.processed, result.dlq, result.lost) == (3, 2, 1, 0)


def test_a_handler_slower_than_the_visibility_timeout_sees_its_message_twice():
    faults = Faults(seed=1, slow_rate=1.0, slow_seconds=45)
    url, runtime = pipeline(faults, visibility_timeout=30)
    send_orders(url, "order-1")
    runtime.run_until_quiet()
    assert faults.attempts["order-1"] == 2  # SQS handed it to "another poller" meanwhile
    result = account(url)
    assert result.duplicates == 1 and result.double_effects == 0 and result.ok


def test_a_slow_handler_that_is_not_idempotent_applies_its_effect_twice():
    url, runtime = pipeline(Faults(seed=1, slow_rate=1.0, slow_seconds=45), idempotent=False)
    send_orders(url, "order-1")
    runtime.run_until_quiet()
    assert item("order-1")["applied"] == 2
    assert account(url).double_effects == 1 and not account(url).ok


# --- realistic delivery ----------------------------------------------------------------------

def bodies_seen(delivery, count=30):
    url = provision.ensure_queue("plain")
    sqs = boto3.client("sqs")
    for i in range(count):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    seen = []
    runtime = LocalRuntime(delivery=delivery)
    runtime.on_queue(url, lambda event, context: seen.extend(r["body"] for r in event["Records"]), function_name="f")
    runtime.run_until_quiet()
    return seen


def test_by_default_delivery_is_in_order_and_once_as_moto_does():
    assert bodies_seen(None) == [str(i) for i in range(30)]
    assert bodies_seen(ExactDelivery()) == [str(i) for i in range(30)]


def test_realistic_delivery_reorders_and_duplicates_but_loses_nothing():
    seen = bodies_seen(RealisticDelivery(seed=5, duplicate_rate=0.3))
    assert set(seen) == {str(i) for i in range(30)}
    assert len(seen) > 30  # duplicates
    assert seen[:30] != [str(i) for i in range(30)]  # reordered
    assert recorder.select(kind="deliver")[0].outcome == "duplicate"


def test_realistic_delivery_is_seeded():
    recorder.clear()
    first = bodies_seen(RealisticDelivery(seed=8, duplicate_rate=0.2))
    provision.sandbox.reset()
    assert bodies_seen(RealisticDelivery(seed=8, duplicate_rate=0.2)) == first


def test_every_message_processed_once_is_duplicated_at_rate_one():
    seen = bodies_seen(RealisticDelivery(seed=1, duplicate_rate=1.0, reorder=False), count=10)
    assert sorted(seen) == sorted([str(i) for i in range(10)] * 2)


def test_fifo_queues_keep_order_and_are_never_duplicated():
    delivery = RealisticDelivery(seed=1, duplicate_rate=1.0).for_queue("orders.fifo", 30)
    messages = [{"MessageId": str(i), "Body": str(i), "Attributes": {}} for i in range(10)]
    assert delivery.arrange(messages, 10, "f") == messages
    delivery.settled(messages, set(), overran=False)
    assert delivery.pending == 0


def test_a_failed_copy_comes_back_and_is_dropped_after_max_attempts():
    delivery = QueueDelivery("q", 30, max_attempts=2)
    message = {"MessageId": "m1", "Body": "x", "Attributes": {"ApproximateReceiveCount": "1"}}
    delivery.settled([message], set(), overran=True)  # the handler overran: a copy is due now
    (copy,) = delivery.arrange([], 10, "f")
    assert QueueDelivery.is_copy(copy) and copy["Attributes"]["ApproximateReceiveCount"] == "2"
    delivery.settled([copy], {"m1"}, overran=False)
    assert delivery.pending == 1 and delivery.next_due() >= clock.now() + 29
    clock.skip(30)
    (again,) = delivery.arrange([], 10, "f")
    delivery.settled([again], {"m1"}, overran=False)
    assert delivery.pending == 0
    assert "破棄" in recorder.select(kind="note")[-1].detail


def test_duplicate_rate_outside_0_to_1_is_refused():
    with pytest.raises(ValueError, match="duplicate_rate"):
        RealisticDelivery(duplicate_rate=2)
