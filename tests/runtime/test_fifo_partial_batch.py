"""An SQS FIFO mapping with partial batch responses: what Lambda does with what is not reported.

ERRORS = https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
  "Lambda deletes the messages that aren't in batchItemFailures" (reporting rules), and for FIFO
  queues: "your function should stop processing messages after the first failure and return all
  failed and unprocessed messages in batchItemFailures. This helps preserve the ordering of
  messages in your queue."
POWERTOOLS = https://docs.powertools.aws.dev/lambda/python/latest/utilities/batch/#fifo-queues
  (SqsFifoPartialProcessor: "stops processing records after the first failure").
"""
import json

import boto3
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsModel

from labs.runtime import LocalRuntime
from labs.sandbox import provision


def fifo_orders(*steps):
    url = provision.ensure_queue("orders", fifo=True, attributes={"ContentBasedDeduplication": "true"})
    sqs = boto3.client("sqs")
    for step in steps:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"order_id": "A", "step": step}), MessageGroupId="A")
    return url


def flaky(applied: list, fail_once: str):
    """Apply a step; the first time ``fail_once`` comes, fail (a transient error)."""
    failed = set()

    def apply(step: str) -> None:
        if step == fail_once and step not in failed:
            failed.add(step)
            raise ConnectionError("DB が一時的に使えません")
        applied.append(step)

    return apply


def test_reporting_only_the_failed_message_lets_lambda_delete_the_later_ones_and_order_breaks():
    url = fifo_orders("created", "paid", "shipped")
    applied = []
    apply = flaky(applied, "paid")

    def report_only_failures(event, context):
        failures = []
        for record in SqsModel.model_validate(event).Records:
            try:
                apply(json.loads(record.body)["step"])
            except ConnectionError:
                failures.append({"itemIdentifier": record.messageId})
        return {"batchItemFailures": failures}

    runtime = LocalRuntime()
    runtime.on_queue(url, report_only_failures, function_name="fulfilment")
    runtime.run_until_quiet()
    assert applied == ["created", "shipped", "paid"]  # "shipped" was applied before "paid": order broken


def test_stopping_at_the_first_failure_keeps_the_group_in_order():
    url = fifo_orders("created", "paid", "shipped")
    applied = []
    apply = flaky(applied, "paid")

    def stop_at_first_failure(event, context):
        records = SqsModel.model_validate(event).Records
        for index, record in enumerate(records):
            try:
                apply(json.loads(record.body)["step"])
            except ConnectionError:
                return {"batchItemFailures": [{"itemIdentifier": r.messageId} for r in records[index:]]}
        return {"batchItemFailures": []}

    runtime = LocalRuntime()
    runtime.on_queue(url, stop_at_first_failure, function_name="fulfilment")
    runtime.run_until_quiet()
    assert applied == ["created", "paid", "shipped"]
    [first, retry] = runtime.invocations("fulfilment")
    assert len(first.event["Records"]) == 3 and len(retry.event["Records"]) == 2


def test_powertools_fifo_processor_reports_the_same_as_the_hand_written_handler():
    url = fifo_orders("created", "paid", "shipped")
    applied = []
    apply = flaky(applied, "paid")
    processor = SqsFifoPartialProcessor()

    def record_handler(record):
        apply(json.loads(record.body)["step"])

    def handler(event, context):
        return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)

    runtime = LocalRuntime()
    runtime.on_queue(url, handler, function_name="fulfilment")
    runtime.run_until_quiet()
    assert applied == ["created", "paid", "shipped"]
    first = runtime.invocations("fulfilment")[0]
    ids = [r["messageId"] for r in first.event["Records"]]
    assert first.result == {"batchItemFailures": [{"itemIdentifier": i} for i in ids[1:]]}
