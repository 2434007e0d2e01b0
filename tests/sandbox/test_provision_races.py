"""ensure_* is idempotent under concurrency too: whoever loses the race to create reads what
the winner made (two notebooks on one shared sandbox, or two threads, at the same moment)."""
import threading

import pytest

from labs import sandbox
from labs.sandbox import provision


def twin_creates_first(monkeypatch, service: str, look: str, create_twin):
    """The first ``look`` finds nothing, because the twin creates the resource just after it."""
    client = sandbox.client(service)
    original = getattr(client, look)
    calls = []

    def look_then_lose_the_race(**kwargs):
        if not calls:
            calls.append(1)
            error = original.__self__.exceptions
            create_twin()
            raise getattr(error, {"events": "ResourceNotFoundException", "dynamodb": "ResourceNotFoundException",
                                  "sqs": "QueueDoesNotExist"}[service])(
                {"Error": {"Code": "NotFound", "Message": "not yet"}}, look)
        return original(**kwargs)

    monkeypatch.setattr(client, look, look_then_lose_the_race)


def test_ensure_bus_when_a_twin_creates_it_meanwhile(monkeypatch):
    events = sandbox.client("events")
    twin_creates_first(monkeypatch, "events", "describe_event_bus", lambda: events.create_event_bus(Name="shared"))
    assert provision.ensure_bus("shared").endswith(":event-bus/shared")


def test_ensure_table_when_a_twin_creates_it_meanwhile(monkeypatch):
    ddb = sandbox.client("dynamodb")
    twin = dict(TableName="shared", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    twin_creates_first(monkeypatch, "dynamodb", "describe_table", lambda: ddb.create_table(**twin))
    assert provision.ensure_table("shared", "id").endswith(":table/shared")


def test_ensure_queue_when_a_twin_creates_it_meanwhile_with_other_settings(monkeypatch):
    sqs = sandbox.client("sqs")
    twin_creates_first(monkeypatch, "sqs", "get_queue_url",
                       lambda: sqs.create_queue(QueueName="shared", Attributes={"VisibilityTimeout": "5"}))
    url = provision.ensure_queue("shared", visibility_timeout=60)
    monkeypatch.undo()
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "60"  # converged to what this caller asked


@pytest.mark.parametrize("ensure", [
    lambda: provision.ensure_bus("shared-bus"),
    lambda: provision.ensure_queue("shared-queue", dead_letter_queue="shared-dlq"),
    lambda: provision.ensure_table("shared-table", "id"),
    lambda: provision.ensure_topic("shared-topic"),
], ids=["bus", "queue", "table", "topic"])
def test_eight_threads_ensuring_the_same_resource_all_succeed(ensure):
    start, results, errors = threading.Barrier(8), [], []

    def run():
        start.wait()
        try:
            results.append(ensure())
        except Exception as error:  # noqa: BLE001 (collected and asserted below)
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(results)) == 1
