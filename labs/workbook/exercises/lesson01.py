"""Lesson 01 (演習1): EventBridge producer, rules and consumer.

Every check runs the learner's code against the sandbox itself: a pattern is put on a
real rule and probed with real events, the producer really publishes, the dispatcher
really writes to DynamoDB. Checks use their own ids (``CHK-...``) and clean up after
themselves, so the notebook's own state is left as it was.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from labs import sandbox
from labs.sandbox import provision
from labs.course.consumers import orders
from labs.course.producers import eventbridge
from labs.course.names import ORDER_EVENT_TYPES, ORDER_SOURCE, ORDERS_BUS, REGION
from labs.course.producers.eventbridge import EventPublishError
from labs.runtime import shapes
from labs.runtime.context import LambdaContext
from labs.observe.queues import drain
from labs.workbook.checks import CheckFailed, exercise, expect, uses
from labs.workbook.lessons import lesson01

CHECK_BUS = "workbook-checks"  # probes for patterns go here, never onto orders-bus


def _drained_events(queue_url: str) -> list[dict]:
    return [json.loads(m["Body"]) for m in drain(queue_url)]


def _remove_rule(bus: str, rule: str) -> None:
    events = sandbox.client("events")
    with contextlib.suppress(ClientError):
        targets = events.list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"]
        if targets:
            events.remove_targets(Rule=rule, EventBusName=bus, Ids=[t["Id"] for t in targets])
        events.delete_rule(Name=rule, EventBusName=bus)


# --- 1. the high-value pattern ------------------------------------------------------------

def high_value_pattern() -> dict:
    return {
        "source": [ORDER_SOURCE],
        "detail-type": ["OrderCreated"],
        "detail": {"amount": [{"numeric": [">=", 10000]}]},
    }


# (label, source, detail-type, detail, should match)
HIGH_VALUE_PROBES = [
    ("10000 円ちょうど", ORDER_SOURCE, "OrderCreated", {"amount": 10000}, True),
    ("25 万円", ORDER_SOURCE, "OrderCreated", {"amount": 250000}, True),
    ("10000.5 円", ORDER_SOURCE, "OrderCreated", {"amount": 10000.5}, True),
    ("9999 円", ORDER_SOURCE, "OrderCreated", {"amount": 9999}, False),
    ("文字列の \"20000\"", ORDER_SOURCE, "OrderCreated", {"amount": "20000"}, False),
    ("amount なし", ORDER_SOURCE, "OrderCreated", {"orderId": "CHK-1"}, False),
    ("OrderShipped の 5 万円", ORDER_SOURCE, "OrderShipped", {"amount": 50000}, False),
    ("別システム (com.myapp.test) の 5 万円", "com.myapp.test", "OrderCreated", {"amount": 50000}, False),
]


def _matches(pattern: dict, probes) -> list[bool]:
    """Which probes a rule with ``pattern`` delivers: EventBridge's own matching, not ours."""
    provision.ensure_bus(CHECK_BUS)
    queue = provision.ensure_queue("workbook-check-pattern")
    _drained_events(queue)
    rule = "workbook-check-pattern"
    try:
        provision.ensure_rule(CHECK_BUS, rule, event_pattern=pattern, queue_url=queue)
        sandbox.client("events").put_events(Entries=[
            {"Source": source, "DetailType": detail_type, "EventBusName": CHECK_BUS,
             "Detail": json.dumps({**detail, "probe": index})}
            for index, (_, source, detail_type, detail, _) in enumerate(probes)
        ])
        seen = {body["detail"]["probe"] for body in _drained_events(queue)}
    finally:
        _remove_rule(CHECK_BUS, rule)
    return [index in seen for index in range(len(probes))]


def _gt_10000() -> dict:
    return {"source": [ORDER_SOURCE], "detail-type": ["OrderCreated"], "detail": {"amount": [{"numeric": [">", 10000]}]}}


def _exactly_10000() -> dict:
    return {"source": [ORDER_SOURCE], "detail-type": ["OrderCreated"], "detail": {"amount": [10000]}}


def _any_source() -> dict:
    return {"detail": {"amount": [{"numeric": [">=", 10000]}]}}


def _amount_at_top() -> dict:
    return {"source": [ORDER_SOURCE], "detail-type": ["OrderCreated"], "amount": [{"numeric": [">=", 10000]}]}


@exercise("01.high_value_pattern", "高額注文 (10000 円以上) のイベントパターン", reference=high_value_pattern,
          wrong=(_gt_10000, _exactly_10000, _any_source, _amount_at_top),
          hints=("source と detail-type も絞ります。金額はイベントの detail の中にあるので、パターンも detail の中に書きます。",
                 "数値の比較は {\"numeric\": [\">=\", 10000]} です: "
                 "{\"source\": [...], \"detail-type\": [...], \"detail\": {\"amount\": [{\"numeric\": [\">=\", 10000]}]}}"))
def _check_high_value(candidate):
    pattern = candidate()
    uses("試したイベント (detail.amount など)", "、".join(label for label, *_ in HIGH_VALUE_PROBES))
    expect(isinstance(pattern, dict), f"パターンは dict で返してください (返り値: {type(pattern).__name__})")
    try:
        matched = _matches(pattern, HIGH_VALUE_PROBES)
    except ValueError as error:  # ensure_rule's Japanese message, with EventBridge's own reason
        raise CheckFailed(f"EventBridge がパターンを拒否しました: {error}") from None
    wrong = [(label, should) for (label, *_, should), got in zip(HIGH_VALUE_PROBES, matched) if got != should]
    expect(not wrong, "マッチの結果が違います: " + "、".join(
        f"{label} は{'マッチすべき' if should else 'マッチすべきでない'}" for label, should in wrong))


# --- 2. publish_order_event ---------------------------------------------------------------

class _FakeEvents:
    """A stand-in client whose put_events answers as told (moto never fails a valid entry)."""

    def __init__(self, error_code: str | None):
        self.error_code = error_code
        self.calls: list[list[dict]] = []

    def put_events(self, Entries):  # noqa: N803 (boto3's spelling)
        self.calls.append(Entries)
        if self.error_code:
            results = [{"ErrorCode": self.error_code, "ErrorMessage": "simulated by the check"} for _ in Entries]
        else:
            results = [{"EventId": f"fake-id-{i + 1}"} for i in range(len(Entries))]
        return {"FailedEntryCount": len(Entries) if self.error_code else 0, "Entries": results}


CHECK_ORDER = {"order_id": "CHK-ORD-1", "customer_id": "CUST-CHK", "amount": 1200}


def _seed_producer(order, event_type, *, events=None):
    """The course text's version: naive utcnow(), no check of event_type."""
    events = events or sandbox.client("events")
    response = events.put_events(Entries=[{
        "Source": ORDER_SOURCE, "DetailType": event_type, "EventBusName": ORDERS_BUS,
        "Detail": json.dumps({"orderId": order["order_id"], "customerId": order["customer_id"],
                              "amount": order["amount"], "timestamp": datetime.utcnow().isoformat()})}])
    if response["FailedEntryCount"] > 0:
        raise EventPublishError([{"ErrorCode": e.get("ErrorCode", "?"), "entry": {}} for e in response["Entries"]])
    return response["Entries"][0]["EventId"]


def _ignores_failures(order, event_type, *, events=None):
    if event_type not in ORDER_EVENT_TYPES:
        raise ValueError(event_type)
    events = events or sandbox.client("events")
    response = events.put_events(Entries=[eventbridge.order_event_entry(order, event_type)])
    return response["Entries"][0].get("EventId")  # HTTP 200 is not success: FailedEntryCount is never read


def _generic_error(order, event_type, *, events=None):
    if event_type not in ORDER_EVENT_TYPES:
        raise ValueError(event_type)
    events = events or sandbox.client("events")
    response = events.put_events(Entries=[eventbridge.order_event_entry(order, event_type)])
    if response["FailedEntryCount"]:
        raise RuntimeError("failed")  # neither EventPublishError nor the ErrorCode
    return response["Entries"][0]["EventId"]


def _reads_event_id_unchecked(order, event_type, *, events=None):
    if event_type not in ORDER_EVENT_TYPES:
        raise ValueError(event_type)
    events = events or sandbox.client("events")
    response = events.put_events(Entries=[eventbridge.order_event_entry(order, event_type)])
    return response["Entries"][0]["EventId"]  # a failed entry has no EventId: KeyError


def _accepts_any_type(order, event_type, *, events=None):
    entry = {**eventbridge.order_event_entry(order, "OrderCreated"), "DetailType": event_type}
    response = (events or sandbox.client("events")).put_events(Entries=[entry])
    if response["FailedEntryCount"]:
        raise EventPublishError([{"ErrorCode": response["Entries"][0]["ErrorCode"], "entry": entry}])
    return response["Entries"][0]["EventId"]


@exercise("01.publish_order_event", "publish_order_event: エントリ単位の失敗を扱う発行関数",
          reference=eventbridge.publish_order_event,
          wrong=(_seed_producer, _ignores_failures, _generic_error, _accepts_any_type, _reads_event_id_unchecked),
          hints=("put_events は HTTP 200 でも、エントリごとに失敗していることがあります。例外が出ないので、応答の中を見ます。",
                 "response[\"FailedEntryCount\"] が 0 より大きければ response[\"Entries\"][0][\"ErrorCode\"] を入れて "
                 "EventPublishError([{\"entry\": entry, \"ErrorCode\": ..., \"ErrorMessage\": ...}]) を送出し、"
                 "成功なら response[\"Entries\"][0][\"EventId\"] を返します。時刻は datetime.now(timezone.utc).isoformat() です。"))
def _check_publish(candidate):
    # 1. An unknown event type is refused before anything is sent.
    uses("ケース 1", f"publish_order_event({CHECK_ORDER}, 'OrderReturned', events=偽のクライアント)")
    fake = _FakeEvents(None)
    try:
        candidate(CHECK_ORDER, "OrderReturned", events=fake)
    except ValueError:
        pass
    else:
        raise CheckFailed("未知の event_type 'OrderReturned' で ValueError を送出してください")
    expect(not fake.calls, "未知の event_type なのに put_events を呼びました (送る前に止めてください)")

    # 2. A real publish reaches orders-bus with the right envelope and detail.
    provision.ensure_bus(ORDERS_BUS)
    queue = provision.ensure_queue("workbook-check-publish")
    _drained_events(queue)
    rule = "workbook-check-publish"
    try:
        provision.ensure_rule(ORDERS_BUS, rule, queue_url=queue, event_pattern={
            "source": [ORDER_SOURCE], "detail": {"orderId": [{"prefix": "CHK-"}]}})
        uses("ケース 2", f"publish_order_event({CHECK_ORDER}, 'OrderCreated') (本物の orders-bus へ)")
        returned = candidate(CHECK_ORDER, "OrderCreated")
        delivered = _drained_events(queue)
    finally:
        _remove_rule(ORDERS_BUS, rule)
    expect(len(delivered) == 1, f"orders-bus (source {ORDER_SOURCE}) に届いたイベントが {len(delivered)} 件です (1 件のはず)")
    event = delivered[0]
    expect(event["detail-type"] == "OrderCreated", f"detail-type が {event['detail-type']!r} です")
    detail = event["detail"]
    for key, value in (("orderId", "CHK-ORD-1"), ("customerId", "CUST-CHK"), ("amount", 1200)):
        expect(detail.get(key) == value, f"detail.{key} が {detail.get(key)!r} です ({value!r} のはず)")
    try:
        stamp = datetime.fromisoformat(str(detail.get("timestamp")))
    except ValueError:
        raise CheckFailed(f"detail.timestamp が ISO 8601 ではありません: {detail.get('timestamp')!r}") from None
    expect(stamp.tzinfo is not None,
           f"detail.timestamp にタイムゾーンがありません ({detail['timestamp']}): datetime.utcnow() は naive です。"
           "datetime.now(timezone.utc) を使ってください")
    expect(returned == event["id"], f"返り値は EventId ({event['id']}) にしてください (返り値: {returned!r})")

    # 3. HTTP 200 with a failed entry must raise EventPublishError naming the ErrorCode.
    uses("ケース 3", "events= の偽のクライアントが HTTP 200 で FailedEntryCount=1、"
                     "Entries=[{'ErrorCode': 'InternalFailure', 'ErrorMessage': ...}] (EventId なし) を返す")
    try:
        candidate(CHECK_ORDER, "OrderShipped", events=_FakeEvents("InternalFailure"))
    except EventPublishError as error:
        expect("InternalFailure" in str(error), f"EventPublishError のメッセージに ErrorCode (InternalFailure) を含めてください: {error}")
    except KeyError as error:
        raise CheckFailed(f"ケース 3 (エントリが失敗した応答) で KeyError: {error} が出ました。失敗したエントリには EventId がありません。"
                          "FailedEntryCount を確かめ、失敗なら EventPublishError を送出してください") from None
    except Exception as error:
        raise CheckFailed(f"ケース 3 (エントリが失敗した応答) で EventPublishError ではなく {type(error).__name__} が送出されました") from None
    else:
        raise CheckFailed("FailedEntryCount=1 (ErrorCode InternalFailure) なのに例外が送出されませんでした")

    # 4. Success through an injected client returns that client's EventId.
    uses("ケース 4", "events= の偽のクライアントが成功 (EventId 'fake-id-1') を返す")
    returned = candidate(CHECK_ORDER, "OrderCancelled", events=_FakeEvents(None))
    expect(returned == "fake-id-1", f"events= で渡したクライアントを使い、その EventId を返してください (返り値: {returned!r})")


# --- 3. the dispatcher ----------------------------------------------------------------------

logger = logging.getLogger("order-service")
HANDLERS = {"OrderCreated": orders.handle_order_created, "OrderShipped": orders.handle_order_shipped,
            "OrderCancelled": orders.handle_order_cancelled}  # detail-type -> the course's handler


def lambda_handler(event, context):
    """The exercise's answer: the handler's return value, unknown types logged and None."""
    handler = HANDLERS.get(event.get("detail-type"))
    if handler is None:
        logger.warning("Unknown event type: %s", event.get("detail-type"))
        return None
    return handler(event["detail"])


def _course_text_handler(event, context):
    """The course text's own handler: nothing returned, the unknown type printed."""
    event_type = event["detail-type"]
    if event_type in HANDLERS:
        HANDLERS[event_type](event["detail"])
    else:
        print(f"Unknown event type: {event_type}")


def _prints_unknown(event, context):
    handler = HANDLERS.get(event["detail-type"])
    if handler is None:
        print(f"Unknown event type: {event['detail-type']}")  # Lambda keeps it, but no log level to filter on
        return None
    return handler(event["detail"])


def _seed_dispatcher(event, context):
    return HANDLERS[event["detail-type"]](event["detail"])  # KeyError on an unknown type


def _everything_created(event, context):
    return orders.handle_order_created(event["detail"])


def _silent_unknown(event, context):
    handler = HANDLERS.get(event["detail-type"])
    return handler(event["detail"]) if handler else None  # nobody will ever know


def _swapped(event, context):
    handler = {"OrderCreated": orders.handle_order_created, "OrderShipped": orders.handle_order_cancelled,
               "OrderCancelled": orders.handle_order_shipped}.get(event["detail-type"])
    if handler is None:
        logging.getLogger(__name__).warning("Unknown event type: %s", event["detail-type"])
        return None
    return handler(event["detail"])


def delivered_order_event(detail_type: str, detail: dict) -> dict:
    """An order event exactly as the order service's rule hands it to its Lambda target."""
    return shapes.rule_target_event(detail_type, detail, source=ORDER_SOURCE, account=sandbox.ACCOUNT_ID,
                                    region=REGION, time=datetime.now(timezone.utc),
                                    event_id="00000000-0000-4000-8000-000000000001")


class _Captured(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record):
        self.lines.append((record.levelno, record.getMessage()))


def _item(table: str, key: str, value: str) -> dict:
    return sandbox.client("dynamodb").get_item(TableName=table, Key={key: {"S": value}}).get("Item", {})


@exercise("01.lambda_handler", "lambda_handler: detail-type で振り分け、未知の型はログに残す",
          reference=lambda_handler,
          wrong=(_seed_dispatcher, _everything_created, _silent_unknown, _swapped, _course_text_handler, _prints_unknown),
          hints=("辞書 {detail-type: ハンドラー関数} を作り、見つかったハンドラーに event[\"detail\"] を渡して、その戻り値を返します。",
                 "handlers.get(event.get(\"detail-type\")) が None なら logger.warning(\"Unknown event type: %s\", ...) "
                 "と書いて None を返します (print ではなく logging: ログレベルで絞り込めます)。"))
def _check_dispatcher(candidate):
    lesson01.ensure_order_tables()
    sku, first, second = "CHK-SKU", "CHK-ORD-1", "CHK-ORD-2"
    lesson01.restock({sku: 5})
    context = LambdaContext("order-service")

    def deliver(detail_type: str, detail: dict):
        uses(detail_type, detail)
        return candidate(delivered_order_event(detail_type, detail), context)

    def returns_handler_result(detail_type: str, got, wanted: str) -> None:
        expect(got == wanted, f"{detail_type} ではハンドラーの戻り値 ({wanted!r}) をそのまま返してください (返り値: {got!r})")

    try:
        got = deliver("OrderCreated", {"orderId": first, "customerId": "C", "amount": 100,
                                       "items": [{"productId": sku, "quantity": 2}]})
        stock = lesson01.inventory([sku])[sku]
        expect(stock == {"available": 3, "reserved": 2},
               f"OrderCreated で在庫 2 個が予約されていません (在庫: {stock})")
        returns_handler_result("OrderCreated", got, "reserved")
        got = deliver("OrderShipped", {"orderId": first, "trackingNumber": "TRK-CHK"})
        order = _item(orders.ORDERS_TABLE, "order_id", first)
        expect(order.get("status", {}).get("S") == "SHIPPED" and order.get("tracking_number", {}).get("S") == "TRK-CHK",
               f"OrderShipped で追跡番号が記録されていません (注文: {order.get('status', {}).get('S')})")
        returns_handler_result("OrderShipped", got, "tracking recorded")
        deliver("OrderCreated", {"orderId": second, "customerId": "C", "amount": 300,
                                 "items": [{"productId": sku, "quantity": 1}]})
        got = deliver("OrderCancelled", {"orderId": second, "reason": "check"})
        refund = _item(orders.REFUNDS_TABLE, "order_id", second)
        expect(bool(refund), "OrderCancelled で返金が記録されていません (refunds テーブル)")
        stock = lesson01.inventory([sku])[sku]
        expect(stock == {"available": 3, "reserved": 2},
               f"OrderCancelled で在庫が戻っていません (在庫: {stock}; available 3 / reserved 2 のはず)")
        returns_handler_result("OrderCancelled", got, "refund recorded")

        captured, out = _Captured(), io.StringIO()
        root = logging.getLogger()
        root.addHandler(captured)
        try:
            with contextlib.redirect_stdout(out):
                got = deliver("OrderReturned", {"orderId": "CHK-ORD-3"})
        except Exception as error:
            raise CheckFailed(f"未知の detail-type 'OrderReturned' で例外 {type(error).__name__}: {error} "
                                 "が出ました。ログに残して無視してください") from None
        finally:
            root.removeHandler(captured)
        warned = [line for level, line in captured.lines if level >= logging.WARNING and "OrderReturned" in line]
        expect(warned or "OrderReturned" not in out.getvalue(),
               "未知の detail-type 'OrderReturned' を print で出しました。logger.warning(...) でログに残してください "
               "(Lambda ではログレベルで絞り込めます)")
        expect(warned, "未知の detail-type 'OrderReturned' を logger.warning(...) でログに残してください")
        expect(got is None, f"未知の detail-type では None を返してください (返り値: {got!r})")
        expect(not _item(orders.ORDERS_TABLE, "order_id", "CHK-ORD-3"), "未知の detail-type で注文が書き込まれました")
    finally:
        ddb = sandbox.client("dynamodb")
        for table, key, value in ((orders.INVENTORY_TABLE, "product_id", sku), (orders.ORDERS_TABLE, "order_id", first),
                                  (orders.ORDERS_TABLE, "order_id", second), (orders.REFUNDS_TABLE, "order_id", second),
                                  (orders.ORDERS_TABLE, "order_id", "CHK-ORD-3")):
            ddb.delete_item(TableName=table, Key={key: {"S": value}})


# --- 4. wiring a rule, its target and the queue policy by hand -------------------------------

CANCELLED_PATTERN = {"source": [ORDER_SOURCE], "detail-type": ["OrderCancelled"]}


def wire_rule_to_queue(bus: str, rule: str, queue_url: str) -> str:
    """The exercise's answer: the rule, the policy letting the rule send, and the queue as its target."""
    return _wired(bus, rule, queue_url)


def _wired(bus, rule, queue_url, *, pattern=CANCELLED_PATTERN, principal="events.amazonaws.com",
           source_arn=None, target=None, policy=True) -> str:
    """The answer, or (with one argument changed) what a learner typically gets wrong."""
    events, sqs = sandbox.client("events"), sandbox.client("sqs")
    rule_arn = events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern))["RuleArn"]
    queue_arn = provision.queue_arn(queue_url)
    if policy:
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": principal}, "Action": "sqs:SendMessage",
                "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": source_arn or rule_arn}}}]})})
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "queue", "Arn": target or queue_arn}])
    return rule_arn


def _no_policy(bus, rule, queue_url):
    return _wired(bus, rule, queue_url, policy=False)  # what moto alone lets through; AWS does not


def _sns_principal(bus, rule, queue_url):
    return _wired(bus, rule, queue_url, principal="sns.amazonaws.com")  # copied from the SNS lesson


def _bus_as_source_arn(bus, rule, queue_url):
    bus_arn = sandbox.client("events").describe_event_bus(Name=bus)["Arn"]
    return _wired(bus, rule, queue_url, source_arn=bus_arn)  # the bus, not the rule, is named


def _queue_url_as_target(bus, rule, queue_url):
    return _wired(bus, rule, queue_url, target=queue_url)


def _wrong_source(bus, rule, queue_url):
    return _wired(bus, rule, queue_url, pattern={"source": ["com.myapp.order"], "detail-type": ["OrderCancelled"]})


# (label, source, detail-type, should arrive)
WIRING_PROBES = [
    ("com.myapp.orders の OrderCancelled", ORDER_SOURCE, "OrderCancelled", True),
    ("com.myapp.orders の OrderCreated", ORDER_SOURCE, "OrderCreated", False),
    ("com.myapp.test の OrderCancelled", "com.myapp.test", "OrderCancelled", False),
]


def _why_refused(rule_arn: str, queue_url: str) -> str:
    """The Japanese cause of a refused delivery, named from the queue's policy."""
    from labs.sandbox.mends.queue_policies import decide

    sqs = sandbox.client("sqs")
    policy = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"]).get("Attributes", {}).get("Policy")
    if not policy:
        return ("キューにポリシーがありません。AWS では EventBridge がキューに送るには、キューのポリシーで "
                "events.amazonaws.com に sqs:SendMessage を許可する必要があります (ポリシーがないと、put_events は成功しても "
                "配信は黙って失敗します)。set_queue_attributes(QueueUrl=..., Attributes={\"Policy\": ...}) で設定してください")
    queue_arn = provision.queue_arn(queue_url)
    if decide(policy, service="sns", source_arn=rule_arn, queue_arn=queue_arn).allowed:
        return ("ポリシーの Principal が sns.amazonaws.com です。ルールから送るのは EventBridge なので "
                "{\"Service\": \"events.amazonaws.com\"} にしてください")
    arns = [value for statement in json.loads(policy).get("Statement", [])
            for condition in (statement.get("Condition") or {}).values()
            for key, values in condition.items() if key.lower() == "aws:sourcearn"
            for value in (values if isinstance(values, list) else [values])]
    if arns and rule_arn not in arns:
        return (f"ポリシーの aws:SourceArn が {', '.join(arns)} です。送り元はルールなので、"
                f"put_rule が返したルールの ARN ({rule_arn}) にしてください")
    return "キューのポリシーがこのルールからの送信を許可していません: " + decide(
        policy, service="events", source_arn=rule_arn, queue_arn=queue_arn).reason


@exercise("01.wire_rule_to_queue", "wire_rule_to_queue: ルール・ターゲット・キューポリシーを自分でつなぐ",
          reference=wire_rule_to_queue,
          wrong=(_no_policy, _sns_principal, _bus_as_source_arn, _queue_url_as_target, _wrong_source),
          hints=("必要なのは 3 つです: ルール (パターン)、ターゲット (キュー)、キューのポリシー (EventBridge に送信を許可)。"
                 "moto だけなら 3 つ目がなくても届きますが、AWS とこのサンドボックスでは届きません。",
                 "events.put_rule(Name=, EventBusName=, EventPattern=json.dumps(...)) の RuleArn、"
                 "sqs.get_queue_attributes(QueueUrl=, AttributeNames=[\"QueueArn\"]) のキュー ARN、"
                 "sqs.set_queue_attributes(QueueUrl=, Attributes={\"Policy\": json.dumps(ポリシー)})、"
                 "events.put_targets(Rule=, EventBusName=, Targets=[{\"Id\": ..., \"Arn\": キュー ARN}]) です。"))
def _check_wiring(candidate):
    from labs.sandbox.mends.queue_policies import decide

    provision.ensure_bus(CHECK_BUS)
    rule = "workbook-check-wiring"
    queue = provision.ensure_queue("workbook-check-wiring")
    sandbox.client("sqs").set_queue_attributes(QueueUrl=queue, Attributes={"Policy": ""})  # start without one
    _drained_events(queue)
    uses("引数", f"bus={CHECK_BUS!r}, rule={rule!r}, queue_url={queue!r}")
    uses("発行するイベント", "、".join(label for label, *_ in WIRING_PROBES))
    try:
        try:
            returned = candidate(CHECK_BUS, rule, queue)
        except ClientError as error:
            message = error.response["Error"]["Message"]
            expect(not ("Arn" in message and ("sqs." in message or "queue.amazonaws.com" in message)),
                   f"ターゲットの Arn にキューの URL を渡しています ({message})。ターゲットにはキューの ARN "
                   "(arn:aws:sqs:...: get_queue_attributes の QueueArn) を使ってください")
            raise CheckFailed(f"AWS がエラーを返しました: {error.response['Error']['Code']}: {message}") from None
        events = sandbox.client("events")
        try:
            rule_arn = events.describe_rule(Name=rule, EventBusName=CHECK_BUS)["Arn"]
        except events.exceptions.ResourceNotFoundException:
            raise CheckFailed(f"バス {CHECK_BUS} にルール {rule} がありません。"
                              "put_rule(Name=rule, EventBusName=bus, ...) で引数のバスに作ってください") from None
        events.put_events(Entries=[
            {"Source": source, "DetailType": detail_type, "EventBusName": CHECK_BUS,
             "Detail": json.dumps({"orderId": f"CHK-W-{index}"})}
            for index, (_, source, detail_type, _) in enumerate(WIRING_PROBES)])
        arrived = {event["detail"]["orderId"] for event in _drained_events(queue)}
    finally:
        _remove_rule(CHECK_BUS, rule)
    policy = sandbox.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"])
    allowed = decide(policy.get("Attributes", {}).get("Policy"), service="events", source_arn=rule_arn,
                     queue_arn=provision.queue_arn(queue)).allowed
    expect(allowed, _why_refused(rule_arn, queue))  # the sandbox refused the deliveries, as AWS does
    wrong = [(label, should) for index, (label, *_, should) in enumerate(WIRING_PROBES)
             if (f"CHK-W-{index}" in arrived) != should]
    expect(not wrong, "届いたイベントが違います (パターンを確かめてください: source は com.myapp.orders、"
                      "detail-type は OrderCancelled): " + "、".join(
                          f"{label} は{'届くべき' if should else '届くべきでない'}" for label, should in wrong))
    expect(returned == rule_arn, f"ルールの ARN (put_rule の RuleArn) を返してください (返り値: {returned!r})")
