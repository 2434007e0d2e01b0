"""AWS's limits the course relies on, each in one place with the page that states it.

The producers check them before sending, the sandbox refuses what AWS refuses with them,
and the lessons quote them: a quota AWS changes is changed here, once.
"""
from __future__ import annotations

import re

# --- EventBridge -------------------------------------------------------------------------------
# AWS raised the PutEvents limit from 256 KB to 1 MB on 29 January 2026 ("More room to build:
# serverless services now support payloads up to 1 MB", aws.amazon.com/blogs/compute/
# more-room-to-build-serverless-services-now-support-payloads-up-to-1-mb). The user guide page
# eventbridge/latest/userguide/eb-putevent-size.html still says 256 KB; its way of *measuring*
# an entry (below) is unchanged. A request whose entries add up to more is refused as a whole.
EVENTBRIDGE_MAX_REQUEST_BYTES = 1024 * 1024
EVENTBRIDGE_MAX_ENTRIES = 10  # an 11th entry: ValidationException


def eventbridge_entry_size(entry: dict) -> int:
    """How EventBridge sizes a PutEvents entry (eb-putevent-size.html): ``Time`` counts 14 bytes;
    ``Source``, ``DetailType``, ``Detail`` and each of ``Resources`` their UTF-8 bytes."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len((entry.get(key) or "").encode("utf-8", "surrogatepass"))
    size += sum(len(r.encode("utf-8", "surrogatepass")) for r in entry.get("Resources") or [])
    return size


# --- SQS (AWSSimpleQueueService/latest/APIReference/API_SendMessage.html, sqs-message-metadata.html,
#     API_SetQueueAttributes.html) --------------------------------------------------------------
SQS_MAX_MESSAGE_ATTRIBUTES = 10
SQS_MAX_VISIBILITY_TIMEOUT = 12 * 3600  # 43,200 s
SQS_MAX_RECEIVE_COUNT = (1, 1000)  # RedrivePolicy maxReceiveCount
# "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF": anything else,
# a lone surrogate (U+D800-U+DFFF) included, is refused.
SQS_FORBIDDEN_CHARACTER = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# --- Lambda (lambda/latest/dg/configuration-timeout.html, API_PutFunctionEventInvokeConfig.html) --
LAMBDA_TIMEOUT_SECONDS = (1, 900)
LAMBDA_ASYNC_RETRY_ATTEMPTS = (0, 2)  # MaximumRetryAttempts, default 2
LAMBDA_ASYNC_EVENT_AGE_SECONDS = (60, 21600)  # MaximumEventAgeInSeconds, default 21600 (6 h)


def require_within(name: str, value, bounds: tuple[int, int], rule: str) -> None:
    """Refuse ``value`` outside ``bounds`` (inclusive) before anything is made, as AWS would.

    ``rule`` names AWS's rule in English, e.g. "Lambda function timeout: 1-900 seconds".
    """
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} は {low}〜{high} の整数で指定してください (指定値: {value!r})。"
                         f"AWS の決まり: {rule}")
