"""labs.course.consumers.batch: the partial batch response every SQS consumer of the course shares."""
import pytest

from labs.course.consumers.batch import partial_batch_response

pytestmark = pytest.mark.no_sandbox


def records(*ids):
    return {"Records": [{"messageId": i, "body": i} for i in ids]}


def fail_on(*bad):
    def handle(record):
        if record["body"] in bad:
            raise ValueError(f"bad {record['body']}")
    return handle


def test_only_the_records_that_raised_are_reported_in_order(capsys):
    # The shape Lambda reads back: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
    assert partial_batch_response(records("a", "b", "c", "d"), fail_on("b", "d")) == {
        "batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "d"}]}
    assert capsys.readouterr().out == "Error processing message b: bad b\nError processing message d: bad d\n"


def test_success_is_an_empty_list_and_an_empty_batch_too():
    assert partial_batch_response(records("a"), fail_on()) == {"batchItemFailures": []}
    assert partial_batch_response({"Records": []}, fail_on()) == {"batchItemFailures": []}


def test_every_record_is_tried_even_after_a_failure_and_on_failure_hears_each():
    seen, told = [], []

    def handle(record):
        seen.append(record["messageId"])
        raise RuntimeError("down")

    result = partial_batch_response(records("a", "b"), handle, on_failure=lambda r, e: told.append((r["messageId"], str(e))))
    assert seen == ["a", "b"] and told == [("a", "down"), ("b", "down")]
    assert result == {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}
