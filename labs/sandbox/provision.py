"""Idempotent provisioning: every ``ensure_*`` may run any number of times.

Running a cell (or a whole notebook) twice must give the same resources, not an error
and not duplicates. Each helper looks first, then creates or converges. Two notebooks on
one shared sandbox may do so at the same moment: whoever loses the race to create gets
"already exists", and then reads what the winner made (the same resource). The seed's
resources are built by :func:`provision_seed`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from labs import sandbox
from labs.course.limits import SQS_MAX_RECEIVE_COUNT, SQS_MAX_VISIBILITY_TIMEOUT, require_within
from labs.course.names import ALERTS_TOPIC, FAILED_MESSAGES_TABLE, ORDERS_BUS, ORDER_EVENTS_TOPIC
from labs.sandbox import pattern_errors


def ensure_bus(name: str) -> str:
    events = sandbox.client("events")
    try:
        return events.describe_event_bus(Name=name)["Arn"]
    except events.exceptions.ResourceNotFoundException:
        pass
    try:
        return events.create_event_bus(Name=name)["EventBusArn"]
    except events.exceptions.ResourceAlreadyExistsException:  # made by someone else meanwhile
        return events.describe_event_bus(Name=name)["Arn"]


def queue_arn(queue_url: str) -> str:
    attrs = sandbox.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return attrs["Attributes"]["QueueArn"]


def ensure_queue(
    name: str,
    *,
    visibility_timeout: int = 30,
    dead_letter_queue: str | None = None,
    max_receive_count: int = 3,
    fifo: bool = False,
    attributes: dict[str, str] | None = None,
) -> str:
    """Create or converge a queue and return its URL.

    ``dead_letter_queue`` names a queue (made here too) that SQS moves a message to
    after ``max_receive_count`` receives: SQS's own RedrivePolicy does the moving.
    """
    # Checked before anything is made (the DLQ included): AWS refuses these settings.
    require_within("visibility_timeout", visibility_timeout, (0, SQS_MAX_VISIBILITY_TIMEOUT),
                   "SQS VisibilityTimeout is 0-43200 seconds (12 hours)")
    if dead_letter_queue:
        require_within("max_receive_count", max_receive_count, SQS_MAX_RECEIVE_COUNT,
                       "SQS RedrivePolicy maxReceiveCount is 1-1000")
    sqs = sandbox.client("sqs")
    wanted = {"VisibilityTimeout": str(visibility_timeout), **(attributes or {})}
    if fifo:
        name = name if name.endswith(".fifo") else name + ".fifo"
        wanted.setdefault("FifoQueue", "true")
    if dead_letter_queue:
        dlq_url = ensure_queue(dead_letter_queue, fifo=fifo)
        wanted["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": queue_arn(dlq_url), "maxReceiveCount": max_receive_count}
        )
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        try:  # the same attributes again is no error on SQS: a racing twin gets the same URL
            return sqs.create_queue(QueueName=name, Attributes=wanted)["QueueUrl"]
        except sqs.exceptions.QueueNameExists:  # made meanwhile with other attributes: converge
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    wanted.pop("FifoQueue", None)  # cannot be changed after creation
    sqs.set_queue_attributes(QueueUrl=url, Attributes=wanted)
    return url


def allow_send(queue_url: str, source_arn: str, service: str) -> None:
    """A queue policy letting an SNS topic or EventBridge rule send to the queue.

    Without it AWS drops the deliveries (no error to the publisher), and so does the sandbox
    (``labs.sandbox.mends.queue_policies``), so the workbook always writes it, as you must in production.
    """
    sqs = sandbox.client("sqs")
    arn = queue_arn(queue_url)
    current = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])
    policy = json.loads(current.get("Attributes", {}).get("Policy") or '{"Version": "2012-10-17", "Statement": []}')
    sid = f"allow-{source_arn.rsplit(':', 1)[-1].replace('/', '-')}"
    if any(s.get("Sid") == sid for s in policy["Statement"]):
        return
    policy["Statement"].append({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": f"{service}.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
    })
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})


def ensure_rule(
    bus: str,
    name: str,
    *,
    event_pattern: dict | None = None,
    schedule: str | None = None,
    queue_url: str | None = None,
    target_id: str | None = None,
    input_transformer: dict | None = None,
) -> str:
    """Create or update a rule on ``bus``; with ``queue_url``, route matches to that queue.

    Without a pattern or schedule, the rule must exist already and only the target is added.
    """
    events = sandbox.client("events")
    if event_pattern is None and schedule is None:  # only adding a target to an existing rule
        rule_arn = events.describe_rule(Name=name, EventBusName=bus)["Arn"]
    else:
        kwargs: dict = {"Name": name, "EventBusName": bus, "State": "ENABLED"}
        if event_pattern is not None:
            kwargs["EventPattern"] = json.dumps(event_pattern)
        if schedule is not None:
            kwargs["ScheduleExpression"] = schedule
        try:
            rule_arn = events.put_rule(**kwargs)["RuleArn"]  # put_rule is an upsert
        except (events.exceptions.InvalidEventPatternException, events.exceptions.ClientError) as error:
            if error.response["Error"]["Code"] not in ("InvalidEventPatternException", "ValidationException"):
                raise
            reason = error.response["Error"]["Message"]
            raise ValueError(f"ルール {name} を作れません: {reason}\n  → {pattern_errors.explain(reason)}\n"
                             f"  イベントパターン: {json.dumps(event_pattern, ensure_ascii=False)}"
                             f"  スケジュール: {schedule}") from error
    if queue_url:
        target = {"Id": target_id or name, "Arn": queue_arn(queue_url)}
        if input_transformer:
            target["InputTransformer"] = input_transformer
        allow_send(queue_url, rule_arn, "events")  # before the first delivery, as AWS needs it
        events.put_targets(Rule=name, EventBusName=bus, Targets=[target])
    return rule_arn


def ensure_topic(name: str, *, fifo: bool = False) -> str:
    attributes = {"FifoTopic": "true"} if fifo else {}
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    return sandbox.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]  # idempotent


def ensure_subscription(
    topic_arn: str,
    queue_url: str,
    *,
    raw: bool = False,
    filter_policy: dict | None = None,
    filter_on_body: bool = False,
) -> str:
    """Subscribe a queue to a topic (once), with raw delivery and a filter policy if asked.

    The settings go in with the subscription itself: a policy SNS rejects leaves nothing behind
    (the sandbox's ``sns_filter_policies`` mend makes moto refuse it before subscribing, as AWS does).
    """
    sns = sandbox.client("sns")
    endpoint = queue_arn(queue_url)
    attributes = {"RawMessageDelivery": str(raw).lower()}
    if filter_policy is not None:
        attributes["FilterPolicyScope"] = "MessageBody" if filter_on_body else "MessageAttributes"
        attributes["FilterPolicy"] = json.dumps(filter_policy)
    allow_send(queue_url, topic_arn, "sns")  # before the first delivery, as AWS needs it
    existing = _subscriptions(topic_arn, endpoint)
    try:
        if not existing:
            return sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=endpoint,
                                 Attributes=attributes, ReturnSubscriptionArn=True)["SubscriptionArn"]
        if filter_policy is None and "FilterPolicy" in sns.get_subscription_attributes(
                SubscriptionArn=existing[0])["Attributes"]:
            attributes["FilterPolicy"] = "{}"  # a cell re-run without a filter: remove the old one
        for name, value in attributes.items():  # scope before policy: the policy is read in its scope
            sns.set_subscription_attributes(SubscriptionArn=existing[0], AttributeName=name, AttributeValue=value)
    except sns.exceptions.InvalidParameterException as error:
        reason = error.response["Error"]["Message"]
        raise ValueError(f"フィルターポリシーが不正です: {json.dumps(filter_policy, ensure_ascii=False)}\n"
                         f"  SNS の応答: {reason}\n  → {pattern_errors.explain(reason)}") from error
    return existing[0]


def _subscriptions(topic_arn: str, endpoint: str) -> list[str]:
    pages = sandbox.client("sns").get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
    return [s["SubscriptionArn"] for page in pages for s in page["Subscriptions"] if s["Endpoint"] == endpoint]


def ensure_table(
    name: str,
    key: str,
    *,
    sort_key: str | None = None,
    stream: str | None = None,
) -> str:
    """A pay-per-request table keyed on string ``key`` (and ``sort_key``); ``stream`` is a
    StreamViewType such as ``NEW_AND_OLD_IMAGES``. Returns the table ARN."""
    ddb = sandbox.client("dynamodb")
    try:
        return ddb.describe_table(TableName=name)["Table"]["TableArn"]
    except ddb.exceptions.ResourceNotFoundException:
        pass
    keys = [(key, "HASH")] + ([(sort_key, "RANGE")] if sort_key else [])
    kwargs: dict = {
        "TableName": name,
        "KeySchema": [{"AttributeName": k, "KeyType": t} for k, t in keys],
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
    try:
        return ddb.create_table(**kwargs)["TableDescription"]["TableArn"]
    except ddb.exceptions.ResourceInUseException:  # made by someone else meanwhile
        return ddb.describe_table(TableName=name)["Table"]["TableArn"]


def recreate_table(name: str, key: str, *, stream: str | None = None) -> str:
    """Drop ``name`` (if present) and create it empty: a section starts from a clean slate."""
    ddb = sandbox.client("dynamodb")
    try:
        ddb.delete_table(TableName=name)
    except ddb.exceptions.ResourceNotFoundException:
        pass
    return ensure_table(name, key, stream=stream)


def ensure_stream(name: str, shard_count: int = 2) -> str:
    """A Kinesis data stream with ``shard_count`` shards, ACTIVE; returns its ARN."""
    kinesis = sandbox.client("kinesis")
    try:
        kinesis.create_stream(StreamName=name, ShardCount=shard_count)
    except kinesis.exceptions.ResourceInUseException:
        pass  # already there
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]



def recreate_stream(name: str, shard_count: int = 2) -> str:
    """Drop ``name`` (if present) and create it empty: a section starts from a clean slate."""
    kinesis = sandbox.client("kinesis")
    try:
        kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    except kinesis.exceptions.ResourceNotFoundException:
        pass
    else:  # deleting takes a while on AWS (DELETING), and a stream of that name cannot be created meanwhile
        kinesis.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return ensure_stream(name, shard_count)

@dataclass
class SeedResources:
    """The course text's resources, as names the notebooks can print and use."""

    bus_arn: str
    order_events_topic_arn: str
    alerts_topic_arn: str
    failed_messages_table: str
    queues: dict[str, str] = field(default_factory=dict)  # name -> URL


def provision_seed() -> SeedResources:
    """The seed's world: ``orders-bus``, ``order-events`` fanned out to two service
    queues (each with a DLQ), the ``alerts`` topic and the ``failed-messages`` table."""
    bus_arn = ensure_bus(ORDERS_BUS)
    topic = ensure_topic(ORDER_EVENTS_TOPIC)
    queues = {}
    for service in ("inventory", "shipping"):
        name = f"{service}-queue"
        queues[name] = ensure_queue(name, dead_letter_queue=f"{service}-dlq", max_receive_count=3)
        queues[f"{service}-dlq"] = ensure_queue(f"{service}-dlq")
        ensure_subscription(topic, queues[name])
    alerts = ensure_topic(ALERTS_TOPIC)
    ensure_table(FAILED_MESSAGES_TABLE, "message_id")
    return SeedResources(bus_arn, topic, alerts, FAILED_MESSAGES_TABLE, queues)
