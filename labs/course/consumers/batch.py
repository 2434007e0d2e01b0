"""The partial batch response, written once: handle each SQS record, report only the failed ones.

Lesson 02 writes this loop by hand (``labs.course.consumers.sqs.lambda_handler``) and
compares it with Powertools' ``BatchProcessor``. Every other SQS consumer of the course
hands its per-record work to :func:`partial_batch_response`, so the rule lives in one place:

* one record that raises must not fail the batch (the others would be retried with it);
* the failed records go back in ``batchItemFailures`` (the mapping needs
  ``ReportBatchItemFailures``), so SQS retries only them and, after ``maxReceiveCount``,
  moves them to the DLQ. Success is ``{"batchItemFailures": []}``, never ``{"statusCode": 200}``.
"""
from __future__ import annotations

from typing import Any, Callable

Record = dict  # one entry of an SQS event's Records (Lambda's shape)


def print_failure(record: Record, error: Exception) -> None:
    """The default: say which message failed and why (on Lambda, print goes to CloudWatch Logs)."""
    print(f"Error processing message {record['messageId']}: {error}")


def partial_batch_response(
    event: dict,
    handle_record: Callable[[Record], Any],
    *,
    on_failure: Callable[[Record, Exception], Any] = print_failure,
) -> dict:
    """Run ``handle_record(record)`` for every record of an SQS event; the ones that raised are
    told to ``on_failure(record, error)`` and returned in ``batchItemFailures``."""
    failures = []
    for record in event["Records"]:
        try:
            handle_record(record)
        except Exception as error:  # one bad record must not fail the whole batch
            on_failure(record, error)
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
