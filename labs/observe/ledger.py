"""A ledger that proves nothing was lost: every published message is accounted for.

After a run, each message a producer published must be in exactly one place::

    published = processed + in the DLQ + still in flight      (so lost = 0)

and an idempotent consumer must have applied each side effect at most once. Nothing
here trusts a counter kept by the code under test: every figure is read back from the
sandbox (the consumer's table, the queues) or from ``labs.observe.recorder``:

* published: the recorder's publish calls to the topic or queue (failed entries excluded);
* processed: items in the consumer's table whose effect counter is at least 1,
  one per business key (so a message processed twice still counts once);
* double effects: items whose effect counter is above 1 (a consumer that is not idempotent);
* duplicates: copies the runtime handed over again (labs.runtime.delivery), absorbed when
  there are no double effects;
* in DLQ: business keys in the dead-letter queue that were never processed;
* in flight: messages still in the queue (visible, or waiting out a retry).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from labs import sandbox
from labs.course import envelopes
from labs.observe import Table, recorder
from labs.observe.queues import peek

_LABELS = {
    "published": "発行",
    "processed": "処理済み (一意)",
    "duplicates": "重複配信 (吸収)",
    "dlq": "DLQ",
    "in_flight": "処理中",
    "lost": "消失",
    "double_effects": "二重の副作用",
}


@dataclass(frozen=True)
class Ledger:
    published: int
    processed: int
    duplicates: int
    dlq: int
    in_flight: int
    lost: int
    double_effects: int

    @property
    def ok(self) -> bool:
        """Nothing lost and no side effect applied twice."""
        return self.lost == 0 and self.double_effects == 0

    def line(self) -> str:
        return " ".join(f"{name}={value}" for name, value in asdict(self).items())

    def table(self) -> Table:
        return Table(["項目", "件数"], [[_LABELS[name], value] for name, value in asdict(self).items()])

    def __add__(self, other: "Ledger") -> "Ledger":
        return Ledger(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))


def business_key(body: str, key: str) -> str | None:
    """The business key of a queued message: raw JSON, an SNS envelope or an EventBridge event."""
    try:
        document = envelopes.sns_message(body)
        if isinstance(document, dict) and isinstance(document.get("detail"), dict):
            document = envelopes.eventbridge_detail(document)
    except envelopes.EnvelopeError:
        return None
    value = document.get(key) if isinstance(document, dict) else None
    return str(value) if value is not None else None


def count_published(target: str) -> int:
    """Messages the recorder saw published to ``target`` (a topic, queue or bus name)."""
    return sum(record.count - record.failed for record in recorder.select(kind="publish", target=target))


def _effects(table_name: str, key: str, counter: str) -> dict[str, int]:
    """Business key -> how many times the effect was applied, read from the consumer's table."""
    ddb = sandbox.client("dynamodb")
    applied: dict[str, int] = {}
    pages = ddb.get_paginator("scan").paginate(
        TableName=table_name, ProjectionExpression="#k, #c",
        ExpressionAttributeNames={"#k": key, "#c": counter},
    )
    for page in pages:
        for item in page["Items"]:
            times = int(item.get(counter, {}).get("N", "0"))
            if times:
                applied[item[key]["S"]] = times
    return applied


def _dead_letter_queue_url(queue_url: str) -> str | None:
    sqs = sandbox.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    if "RedrivePolicy" not in attributes:
        return None
    name = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].rsplit(":", 1)[-1]
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def _in_queue(queue_url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]
    attributes = sandbox.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def take(*, published_to: str, queue_url: str, effects_table: str, key: str = "order_id",
         counter: str = "applied", dead_letter_queue_url: str | None = None) -> Ledger:
    """The ledger of one consumer: messages published to ``published_to`` (every one of
    them reaches ``queue_url``), consumed into ``effects_table`` (keyed by ``key``, with an
    effect counter ``counter``), with the queue's DLQ (from its RedrivePolicy by default)."""
    applied = _effects(effects_table, key, counter)
    dlq_url = dead_letter_queue_url or _dead_letter_queue_url(queue_url)
    dead = []
    for message in peek(dlq_url) if dlq_url else []:
        found = business_key(message["Body"], key)
        dead.append(found if found is not None else f"message:{message['MessageId']}")  # unreadable: counted by id
    dlq = len({k for k in dead if k not in applied})
    queue_name = queue_url.rsplit("/", 1)[-1]
    duplicates = sum(r.count for r in recorder.select(kind="deliver", source=queue_name) if r.outcome == "duplicate")
    published = count_published(published_to)
    in_flight = _in_queue(queue_url)
    return Ledger(
        published=published,
        processed=len(applied),
        duplicates=duplicates,
        dlq=dlq,
        in_flight=in_flight,
        lost=published - len(applied) - dlq - in_flight,
        double_effects=sum(1 for times in applied.values() if times > 1),
    )
