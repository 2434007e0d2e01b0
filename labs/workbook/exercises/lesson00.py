"""Notebook 00 (はじめに): the warm-up exercise."""
import json

from labs import sandbox
from labs.course.names import ORDER_SOURCE, ORDERS_BUS
from labs.sandbox import provision
from labs.workbook.checks import exercise, expect, uses

SAMPLE_ORDER = {"order_id": "ORD-001", "customer_id": "CUST-001", "amount": 1200}


def order_created_entry(order: dict) -> dict:
    """The put_events entry announcing that ``order`` was created on orders-bus."""
    return {
        "Source": ORDER_SOURCE,
        "DetailType": "OrderCreated",
        "Detail": json.dumps({"orderId": order["order_id"], "customerId": order["customer_id"], "amount": order["amount"]}),
        "EventBusName": ORDERS_BUS,
    }


def _detail_as_dict(order):
    return {**order_created_entry(order), "Detail": {"orderId": order["order_id"]}}


def _default_bus(order):
    entry = order_created_entry(order)
    del entry["EventBusName"]
    return entry


def _wrong_source(order):
    return {**order_created_entry(order), "Source": "myapp.orders"}


@exercise("00.order_created_entry", "はじめての put_events エントリ", reference=order_created_entry,
          wrong=(_detail_as_dict, _default_bus, _wrong_source, lambda order: None),
          hints=("put_events のエントリは Source, DetailType, Detail, EventBusName の 4 つのキーを持つ dict です。"
                 "Detail は dict ではなく JSON の文字列です。",
                 "{\"Source\": \"com.myapp.orders\", \"DetailType\": \"OrderCreated\", \"Detail\": json.dumps({\"orderId\": "
                 "order[\"order_id\"], \"customerId\": order[\"customer_id\"], \"amount\": order[\"amount\"]}), "
                 "\"EventBusName\": \"orders-bus\"}"))
def check_order_created_entry(candidate):
    uses("order", SAMPLE_ORDER)
    entry = candidate(dict(SAMPLE_ORDER))
    expect(isinstance(entry, dict), f"dict を返してください (返した値: {entry!r})")
    for key in ("Source", "DetailType", "Detail", "EventBusName"):
        expect(key in entry, f"キー {key!r} がありません。EventBusName を省くと default バスに送られます")
    expect(isinstance(entry["Detail"], str), "Detail は JSON 文字列にします (json.dumps)。dict のままでは送れません")
    detail = json.loads(entry["Detail"])
    expect(detail.get("orderId") == "ORD-001", f"Detail に orderId がありません: {detail}")
    expect(entry["Source"] == ORDER_SOURCE, f"Source は {ORDER_SOURCE!r} です (指定値: {entry['Source']!r})")
    expect(entry["DetailType"] == "OrderCreated", f"DetailType は 'OrderCreated' です (指定値: {entry['DetailType']!r})")
    # Finally, send it for real: the bus must accept it and the rule must route it.
    provision.ensure_bus(ORDERS_BUS)
    queue = provision.ensure_queue("warmup-check")
    provision.ensure_rule(ORDERS_BUS, "warmup-check",
                          event_pattern={"source": [ORDER_SOURCE], "detail-type": ["OrderCreated"]},
                          queue_url=queue)
    response = sandbox.client("events").put_events(Entries=[entry])
    expect(response["FailedEntryCount"] == 0, f"put_events が失敗しました: {response['Entries']}")
    sqs = sandbox.client("sqs")
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    for message in got:
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    expect(len(got) == 1, "イベントがルールに届きませんでした。EventBusName は 'orders-bus' ですか?")
