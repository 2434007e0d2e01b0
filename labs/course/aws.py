"""boto3 clients for the course's production code (producers, consumers, patterns).

Plain boto3, made on first use and kept, one per service: the Lambda idiom of a client
built once per container, without building it at import time (importing a module never
reaches for credentials). On AWS the same code talks to AWS; in the workbook, whatever
``labs.sandbox`` set up in the environment. The sandbox calls :func:`forget_clients` when it
starts, as a new Lambda container starts without the old one's clients.
"""
from __future__ import annotations

import functools

import boto3


@functools.cache
def client(service: str):
    return boto3.client(service)


@functools.cache
def resource(service: str):
    return boto3.resource(service)


def forget_clients() -> None:
    """Drop every kept client and resource: the next call makes a new one from the environment as it is now."""
    client.cache_clear()
    resource.cache_clear()
