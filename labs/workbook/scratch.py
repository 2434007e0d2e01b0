"""The checks' own resources are scratch: what a check creates under a ``check`` name is deleted
when the check ends, so a learner listing the queues (or an instructor looking at a shared
sandbox server) sees the lesson's resources, not the checks'.

The sandbox already hears every call that creates something (``labs.sandbox.owned``, for the
scoped reset of a shared server); a check listens the same way while it runs and keeps only
what is named for it (``check-02-publish``, ``workbook-check-pattern``, ``orders-check-05``,
or a subscription of a check queue). A lesson resource a check happened to create first
(``orders-bus``) stays for the cells after.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager

from labs.sandbox.owned import Owned

logger = logging.getLogger(__name__)
MARK = "check"
NAMED_BY = ("QueueName", "Name", "TableName", "StreamName", "ArchiveName", "Endpoint", "TopicArn")


def named_for_a_check(name: str) -> bool:
    """A queue URL, an ARN or a plain name whose last part says ``check``."""
    return MARK in name.lower().rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class CheckResources(Owned):
    """What a check creates under a check name (a subscription counts when its queue or topic does)."""

    def hear(self, service: str, operation: str, params: dict, response: dict) -> None:
        if any(named_for_a_check(params[key]) for key in NAMED_BY if isinstance(params.get(key), str)):
            super().hear(service, operation, params, response)


@contextmanager
def scratch():
    """Run a check; afterwards its own new ``check`` resources are gone (also when it fails).
    Tidying is a courtesy: when a deletion fails, the verdict stands and a log line says so."""
    from labs import sandbox
    from labs.sandbox import calls

    made = CheckResources()
    calls.listen(__name__, made.hear)
    try:
        yield
    finally:
        calls.forget(__name__)
        try:
            _, failed = made.delete_all(sandbox.client)
        except Exception as error:  # e.g. real AWS without delete permissions
            failed = [f"{type(error).__name__}: {error}"]
        if failed:
            logger.warning("チェック用のリソースを片付けられませんでした: %s", ", ".join(failed))
