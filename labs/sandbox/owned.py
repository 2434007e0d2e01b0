"""What this process created on a shared sandbox, so that ``sandbox.reset()`` can remove just that.

On a shared server several notebooks (and a terminal) use one moto. Emptying it all from one
notebook would wipe the others' queues and tables without a word, so a notebook's reset
deletes only the resources this process created (heard through ``calls.listen``, whatever
client made them) and says what it did; ``reset(force=True)`` and ``python -m labs sandbox
reset`` empty everything.
"""
from __future__ import annotations

import threading

from botocore.exceptions import ClientError

# (service, operation that creates) -> (kind, how to name what was made, how to delete it)
_CREATES = {
    ("sqs", "CreateQueue"): ("queue", lambda p, r: r["QueueUrl"],
                             lambda c, url: c("sqs").delete_queue(QueueUrl=url)),
    ("sns", "CreateTopic"): ("topic", lambda p, r: r["TopicArn"],
                             lambda c, arn: c("sns").delete_topic(TopicArn=arn)),
    ("sns", "Subscribe"): ("subscription", lambda p, r: r["SubscriptionArn"],
                           lambda c, arn: c("sns").unsubscribe(SubscriptionArn=arn)),
    ("eventbridge", "CreateEventBus"): ("bus", lambda p, r: p["Name"],
                                        lambda c, name: c("events").delete_event_bus(Name=name)),
    ("eventbridge", "PutRule"): ("rule", lambda p, r: (p.get("EventBusName", "default"), p["Name"]),
                                 lambda c, key: _delete_rule(c("events"), *key)),
    ("eventbridge", "CreateArchive"): ("archive", lambda p, r: p["ArchiveName"],
                                       lambda c, name: c("events").delete_archive(ArchiveName=name)),
    ("dynamodb", "CreateTable"): ("table", lambda p, r: p["TableName"],
                                  lambda c, name: c("dynamodb").delete_table(TableName=name)),
    ("sfn", "CreateStateMachine"): ("state machine", lambda p, r: r["stateMachineArn"],
                                    lambda c, arn: c("stepfunctions").delete_state_machine(stateMachineArn=arn)),
    ("kinesis", "CreateStream"): ("stream", lambda p, r: p["StreamName"],
                                  lambda c, name: c("kinesis").delete_stream(StreamName=name,
                                                                              EnforceConsumerDeletion=True)),
}
_GONE = ("NotFound", "NonExistent", "DoesNotExist")  # deleted already (by its owner, or twice)


def _delete_rule(events, bus: str, name: str) -> None:
    targets = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
    if targets:
        events.remove_targets(Rule=name, EventBusName=bus, Ids=[t["Id"] for t in targets])
    events.delete_rule(Name=name, EventBusName=bus)


class Owned:
    """Resources created by this process, in the order they were made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: list[tuple[str, str, object]] = []  # (service, operation, identifier)

    def hear(self, service: str, operation: str, params: dict, response: dict) -> None:
        known = _CREATES.get((service, operation))
        if known is None or "Error" in response:
            return
        entry = (service, operation, known[1](params, response))
        with self._lock:
            if entry not in self._made:
                self._made.append(entry)

    def delete_all(self, client) -> tuple[list[str], list[str]]:
        """Delete what was made, newest first; returns (deleted, failed) descriptions."""
        with self._lock:
            made, self._made = self._made, []
        deleted, failed = [], []
        for service, operation, identifier in reversed(made):
            kind, _, delete = _CREATES[(service, operation)]
            label = f"{kind} {identifier if isinstance(identifier, str) else '/'.join(identifier)}"
            try:
                delete(client, identifier)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if not any(word in code for word in _GONE):
                    failed.append(f"{label} ({code})")
                continue
            deleted.append(label)
        return deleted, failed
