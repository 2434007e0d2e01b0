"""Every AWS call made in this process, told to whoever listens: whatever client made it.

The listeners (the recorder in ``labs.observe``, the sandbox's list of what this process
created) hear of each call where botocore makes it (``BaseClient._make_api_call``), so a
client made before ``sandbox.start()``, from a hand-made session, or by code that has never
heard of ``labs`` is heard all the same. Observation registers itself here; the sandbox never
imports it.
"""
from __future__ import annotations

from typing import Callable

import botocore.client
from botocore.exceptions import ClientError

# after(service, operation, params, response): service as in botocore's event names
# ("sqs", "sns", "eventbridge", "sfn"), response the parsed reply (for an error, its "Error").
After = Callable[[str, str, dict, dict], None]
# before(service, operation, params): runs before the call is made; it may refuse the call by raising.
Before = Callable[[str, str, dict], None]

_listeners: dict[str, tuple[Before | None, After | None]] = {}


def listen(name: str, after: After | None = None, *, before: Before | None = None) -> None:
    """Call ``before``/``after`` around every AWS call of this process (``name`` replaces an earlier pair)."""
    _listeners[name] = (before, after)
    _hook(botocore.client.BaseClient)


def forget(name: str) -> None:
    _listeners.pop(name, None)


def _hook(client_class) -> None:
    if getattr(client_class._make_api_call, "labs_calls", False):
        return
    call = client_class._make_api_call

    def _make_api_call(self, operation_name, api_params):
        service = self.meta.service_model.service_id.hyphenize()
        listeners = list(_listeners.values())
        for before, _ in listeners:
            if before is not None:
                before(service, operation_name, api_params)
        try:
            response = call(self, operation_name, api_params)
        except ClientError as error:
            _tell(listeners, service, operation_name, api_params, error.response)
            raise
        _tell(listeners, service, operation_name, api_params, response)
        return response

    _make_api_call.labs_calls = True
    client_class._make_api_call = _make_api_call


def _tell(listeners, service: str, operation: str, params: dict, response: dict) -> None:
    for _, after in listeners:
        if after is not None:
            after(service, operation, params, response)
