"""Step Functions: a state that fails and is caught is not an error of this process (MOTO_GAPS:
"the interpreter logs every failure as ERROR").

moto's interpreter logs every failed state at ERROR, even a failure the state machine's own
``Catch`` handles as designed; on AWS nothing appears in the caller's process, and the
execution history says what happened. The interpreter's logger is quietened to CRITICAL.
"""
from __future__ import annotations

import logging


def apply() -> None:
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
