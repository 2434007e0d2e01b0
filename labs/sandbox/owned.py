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

# (service, operation that creates) -> (kind, where its name is read, the key there and in the delete call,
#                                      the client, the delete call). Rules are the one kind with more to do.
_CREATES = {
    ("sqs", "CreateQueue"): ("queue", "response", "QueueUrl", "sqs", "delete_queue"),
    ("sns", "CreateTopic"): ("topic", "response", "TopicArn", "sns", "delete_topic"),
    ("sns", "Subscribe"): ("subscription", "response", "SubscriptionArn", "sns", "unsubscribe"),
    ("eventbridge", "CreateEventBus"): ("bus", "params", "Name", "events", "delete_event_bus"),
    ("eventbridge", "PutRule"): ("rule", "params", "Name", "events", None),
    ("eventbridge", "CreateArchive"): ("archive", "params", "ArchiveName", "events", "delete_archive"),
    ("dynamodb", "CreateTable"): ("table", "params", "TableName", "dynamodb", "delete_table"),
    ("sfn", "CreateStateMachine"): ("state machine", "response", "stateMachineArn", "stepfunctions",
                                    "delete_state_machine"),
    ("kinesis", "CreateStream"): ("stream", "params", "StreamName", "kinesis", "delete_stream"),
}
_GONE = ("NotFound", "NonExistent", "DoesNotExist")  # deleted already (by its owner, or twice)


def _delete(client, made: tuple) -> str:
    """Delete one thing this process made; returns how to name it."""
    service, operation, name, bus = made
    kind, _, key, client_name, delete = _CREATES[(service, operation)]
    if delete is None:  # a rule: its targets first, on its own bus
        events = client("events")
        targets = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
        if targets:
            events.remove_targets(Rule=name, EventBusName=bus, Ids=[t["Id"] for t in targets])
        events.delete_rule(Name=name, EventBusName=bus)
        return f"{kind} {bus}/{name}"
    getattr(client(client_name), delete)(**{key: name})
    return f"{kind} {name}"


class Owned:
    """Resources created by this process, in the order they were made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: list[tuple[str, str, str, str]] = []  # (service, operation, name, bus: for a rule)

    def hear(self, service: str, operation: str, params: dict, response: dict) -> None:
        known = _CREATES.get((service, operation))
        if known is None or "Error" in response:
            return
        _, where, key = known[:3]
        made = (service, operation, (params if where == "params" else response)[key], params.get("EventBusName", "default"))
        with self._lock:
            if made not in self._made:
                self._made.append(made)

    def delete_all(self, client) -> tuple[list[str], list[str]]:
        """Delete what was made, newest first; returns (deleted, failed) descriptions."""
        with self._lock:
            made, self._made = self._made, []
        deleted, failed = [], []
        for one in reversed(made):
            try:
                deleted.append(_delete(client, one))
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if not any(word in code for word in _GONE):
                    failed.append(f"{_CREATES[one[:2]][0]} {one[2]} ({code})")
        return deleted, failed
