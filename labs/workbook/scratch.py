"""The checks' own resources are scratch: what a check creates under a ``check`` name is deleted
when the check ends, so a learner listing the queues (or an instructor looking at a shared
sandbox server) sees the lesson's resources, not the checks'.

Only resources that did not exist before the check *and* whose name says ``check`` (the checks'
convention: ``check-02-publish``, ``workbook-check-pattern``, ``orders-check-05``) are removed;
a lesson resource a check happened to create first (``orders-bus``) stays for the cells after.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager

logger = logging.getLogger(__name__)
MARK = "check"


def _client(service: str):
    from labs import sandbox  # on first use: importing the checks does not load moto

    return sandbox.client(service)


def _queues():
    return set(_client("sqs").list_queues().get("QueueUrls", []))


def _topics():
    return {t["TopicArn"] for t in _client("sns").list_topics().get("Topics", [])}


def _subscriptions():
    return {(s["SubscriptionArn"], s["TopicArn"], s.get("Endpoint", ""))
            for s in _client("sns").list_subscriptions().get("Subscriptions", [])}


def _rules():
    events = _client("events")
    return {(bus["Name"], rule["Name"]) for bus in events.list_event_buses()["EventBuses"]
            for rule in events.list_rules(EventBusName=bus["Name"]).get("Rules", [])}


def _buses():
    return {bus["Name"] for bus in _client("events").list_event_buses()["EventBuses"]}


def _tables():
    return set(_client("dynamodb").list_tables().get("TableNames", []))


def snapshot() -> dict[str, set]:
    return {"subscriptions": _subscriptions(), "rules": _rules(), "queues": _queues(), "topics": _topics(),
            "buses": _buses(), "tables": _tables()}


def _named(name: str) -> bool:
    """A queue URL, an ARN or a plain name whose last part says ``check``."""
    return MARK in name.lower().rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def remove_new(before: dict[str, set]) -> list[str]:
    """Delete what was created since ``before`` under a check name (subscriptions and rules first,
    then what they point at). Returns what was removed."""
    removed = []
    sns, events, sqs, dynamodb = (_client(s) for s in ("sns", "events", "sqs", "dynamodb"))
    after = snapshot()
    for arn, topic, endpoint in after["subscriptions"] - before["subscriptions"]:
        if _named(topic) or _named(endpoint):
            sns.unsubscribe(SubscriptionArn=arn)
            removed.append(arn)
    for bus, rule in after["rules"] - before["rules"]:
        if _named(rule):
            targets = [t["Id"] for t in events.list_targets_by_rule(Rule=rule, EventBusName=bus).get("Targets", [])]
            if targets:
                events.remove_targets(Rule=rule, EventBusName=bus, Ids=targets)
            events.delete_rule(Name=rule, EventBusName=bus)
            removed.append(f"{bus}/{rule}")
    for url in filter(_named, after["queues"] - before["queues"]):
        sqs.delete_queue(QueueUrl=url)
        removed.append(url)
    for arn in filter(_named, after["topics"] - before["topics"]):
        sns.delete_topic(TopicArn=arn)
        removed.append(arn)
    for bus in filter(_named, after["buses"] - before["buses"]):
        events.delete_event_bus(Name=bus)
        removed.append(bus)
    for table in filter(_named, after["tables"] - before["tables"]):
        dynamodb.delete_table(TableName=table)
        removed.append(table)
    return removed


@contextmanager
def scratch():
    """Run a check; afterwards its own new ``check`` resources are gone (also when it fails).
    Tidying is a courtesy: when the sandbox cannot be listed, the check runs all the same."""
    try:
        before = snapshot()
    except Exception as error:  # e.g. real AWS without list permissions
        logger.warning("チェック用のリソースを片付けられません: %s", error)
        before = None
    try:
        yield
    finally:
        if before is not None:
            try:
                remove_new(before)
            except Exception as error:
                logger.warning("チェック用のリソースを片付けられません: %s", error)
