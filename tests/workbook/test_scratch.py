"""A check's own resources are gone once it has given its verdict; the lesson's stay."""
from labs import sandbox
from labs.workbook import check
from labs.workbook.checks import REGISTRY, exercise, expect, get


def names() -> dict[str, set]:
    sqs, sns, events, dynamodb = (sandbox.client(s) for s in ("sqs", "sns", "events", "dynamodb"))
    return {
        "queues": {u.rsplit("/", 1)[-1] for u in sqs.list_queues().get("QueueUrls", [])},
        "topics": {t["TopicArn"].rsplit(":", 1)[-1] for t in sns.list_topics()["Topics"]},
        "subscriptions": {s["Endpoint"].rsplit(":", 1)[-1] for s in sns.list_subscriptions()["Subscriptions"]},
        "buses": {b["Name"] for b in events.list_event_buses()["EventBuses"]},
        "rules": {r["Name"] for b in events.list_event_buses()["EventBuses"]
                  for r in events.list_rules(EventBusName=b["Name"])["Rules"]},
        "tables": set(dynamodb.list_tables()["TableNames"]),
    }


def busy_check(fail: bool):
    """A check that builds what checks build: queues, a topic subscribed to the lesson's, a rule, a table."""
    def run(candidate):
        sqs, sns, events, dynamodb = (sandbox.client(s) for s in ("sqs", "sns", "events", "dynamodb"))
        queue = sqs.create_queue(QueueName="check-99-inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lesson_topic = sns.create_topic(Name="order-events")["TopicArn"]  # exists already: stays
        sns.subscribe(TopicArn=lesson_topic, Protocol="sqs", Endpoint=arn)
        sns.create_topic(Name="check-99-topic")
        events.create_event_bus(Name="orders-bus")  # a lesson resource the check happened to create first
        events.put_rule(Name="workbook-check-99", EventBusName="orders-bus", EventPattern='{"source": ["x"]}')
        events.put_targets(Rule="workbook-check-99", EventBusName="orders-bus", Targets=[{"Id": "1", "Arn": arn}])
        dynamodb.create_table(TableName="orders-check-99", BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        expect(not fail, "わざと不合格")
    return run


def test_a_checks_own_resources_are_removed_and_the_lessons_stay(capsys):
    sqs, sns = sandbox.client("sqs"), sandbox.client("sns")
    sqs.create_queue(QueueName="order-service")
    sns.create_topic(Name="order-events")
    before = names()
    for fail in (False, True):  # passed or failed, the check tidies up
        exercise("99.busy", "片付けの確認", reference=None)(busy_check(fail))
        try:
            check("99.busy", lambda: None)
        finally:
            del REGISTRY["99.busy"]
        after = names()
        assert after["queues"] == before["queues"] == {"order-service"}
        assert after["topics"] == {"order-events"} and after["subscriptions"] == set()
        assert after["rules"] == set() and after["tables"] == set()
        assert after["buses"] == {"default", "orders-bus"}
    out = capsys.readouterr().out
    assert "✅ 合格: 片付けの確認" in out and "❌ 不合格: 片付けの確認" in out


def test_a_real_exercise_leaves_no_check_resources():
    item = get("03.create_queue_with_dlq")
    before = names()
    check("03.create_queue_with_dlq", item.reference)
    assert {q for q in names()["queues"] - before["queues"] if "check" in q} == set()
