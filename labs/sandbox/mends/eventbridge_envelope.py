"""EventBridge: the envelope a rule delivers carries ``account`` (MOTO_GAPS: "rule deliveries lack account").

moto's default target template drops ``account`` from every event a rule delivers; AWS always
sends it. Patched at the source, so SQS bodies, handlers and archives all see the real shape.
"""
from __future__ import annotations


def apply() -> None:
    from moto.events.utils import EventTemplateParser

    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = (
        '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
        '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, '
        '"detail": <detail>}'
    )
