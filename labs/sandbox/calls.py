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

# listener(service, operation, params, response): service as in botocore's event names
# ("sqs", "sns", "eventbridge", "sfn"), response the parsed reply (for an error, its "Error").
Listener = Callable[[str, str, dict, dict], None]

_listeners: dict[str, Listener] = {}


def listen(name: str, listener: Listener) -> None:
    """Call ``listener`` after every AWS call of this process (``name`` replaces an earlier one)."""
    _listeners[name] = listener
    _hook(botocore.client.BaseClient)


def forget(name: str) -> None:
    _listeners.pop(name, None)


def _hook(client_class) -> None:
    if getattr(client_class._make_api_call, "labs_calls", False):
        return
    call = client_class._make_api_call

    def _make_api_call(self, operation_name, api_params):
        try:
            response = call(self, operation_name, api_params)
        except ClientError as error:
            _tell(self, operation_name, api_params, error.response)
            raise
        _tell(self, operation_name, api_params, response)
        return response

    _make_api_call.labs_calls = True
    client_class._make_api_call = _make_api_call


def _tell(client, operation: str, params: dict, response: dict) -> None:
    service = client.meta.service_model.service_id.hyphenize()
    for listener in list(_listeners.values()):
        listener(service, operation, params, response)
