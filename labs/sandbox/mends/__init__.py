"""Where moto differs from AWS, mended: one module per gap family, applied once per process.

Each module has an ``apply()`` that patches moto in place (in this process, or in the shared
server's process) and names the docs/MOTO_GAPS.md row it mends. Mends patch moto itself (its
backends, or its handling of a whole API call), never a client, so every client (boto3, the AWS
CLI through the server) sees the same AWS.
"""
from __future__ import annotations

from labs.sandbox.mends import (
    dynamodb_streams,
    event_patterns,
    eventbridge_envelope,
    eventbridge_inputs,
    queue_policies,
    sns_fifo,
    sns_envelope,
    sns_filter_policies,
    sqs_inputs,
    sqs_queue_depth,
    stepfunctions_clock,
    stepfunctions_logging,
)

_MENDS = (
    eventbridge_envelope,
    event_patterns,
    sns_filter_policies,
    eventbridge_inputs,
    sqs_inputs,
    sqs_queue_depth,
    sns_envelope,
    dynamodb_streams,
    stepfunctions_logging,
    stepfunctions_clock,
    sns_fifo,
    queue_policies,
)
_applied = False


def apply_all() -> None:
    """Apply every mend (idempotent: a second call does nothing)."""
    global _applied
    if _applied:
        return
    for mend in _MENDS:
        mend.apply()
    _applied = True
