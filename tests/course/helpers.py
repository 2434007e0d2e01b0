"""What the lesson 03 tests share: lesson 03's DLQ handler archiving what a failing consumer dead-letters."""
from labs import sandbox
from labs.course.consumers import dlq
from labs.runtime import LocalRuntime


def failed_rows() -> dict[str, dict]:
    """The failed-messages table, by message id."""
    return {r["message_id"]: r for r in sandbox.resource("dynamodb").Table("failed-messages").scan()["Items"]}


def dead_letter_through_the_handler(source: str, dead: str) -> dict[str, dict]:
    """A consumer that always fails on ``source`` (whose RedrivePolicy leads to ``dead``) and the DLQ
    handler on ``dead``, run until quiet; returns the rows the handler archived."""
    def always_fails(event, context):
        raise ValueError("壊れたメッセージ")

    runtime = LocalRuntime()
    runtime.on_queue(source, always_fails, function_name="orders")
    runtime.on_queue(dead, dlq.lambda_handler, function_name="dlq-handler")
    runtime.run_until_quiet()
    return failed_rows()
