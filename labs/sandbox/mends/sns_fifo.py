"""SNS FIFO topics deduplicate and number their messages (MOTO_GAPS: "SNS FIFO topics").

moto checks that a FIFO publish has a group and a deduplication id (or a topic with
``ContentBasedDeduplication``), then forgets the id: the same message published twice is
delivered twice, and with content-based deduplication on the topic the subscribed FIFO queue
gets no id at all (so a queue without its own content-based deduplication makes the *publish*
fail). ``Publish`` answers without ``SequenceNumber``. AWS
(sns/latest/dg/fifo-message-dedup.html, API_Publish.html):

* the deduplication id is the one given, else the SHA-256 of the body (attributes excluded);
* a message whose id was published in the last five minutes is "accepted but not delivered",
  topic-wide (FifoThroughputScope Topic, the default);
* the id goes on to the subscribed SQS FIFO queues with the message;
* ``Publish`` and ``PublishBatch`` answer a ``SequenceNumber`` that only grows.

The five minutes are read from the sandbox clock, so ``runtime.advance(300)`` lets them pass.
"""
from __future__ import annotations

import hashlib
import threading

from labs.sandbox.clock import clock

DEDUPLICATION_INTERVAL = 300  # seconds
_lock = threading.Lock()
_sequence_numbers: dict[str, str] = {}  # message id -> its SequenceNumber, for the response


def content_deduplication_id(message: str) -> str:
    return hashlib.sha256(message.encode("utf-8")).hexdigest()


def apply() -> None:
    from moto.sns import models, responses

    deliver = models.Topic.publish

    def publish(self, message, subject=None, message_attributes=None, group_id=None, deduplication_id=None,
                message_structure=None):
        if not self.fifo_topic:
            return deliver(self, message, subject, message_attributes, group_id, deduplication_id, message_structure)
        deduplication_id = deduplication_id or content_deduplication_id(message)
        with _lock:
            now = clock.now()
            seen = self.__dict__.setdefault("_labs_deduplication", {})  # id -> when first published
            for known, at in list(seen.items()):
                if now - at >= DEDUPLICATION_INTERVAL:
                    del seen[known]
            duplicate = deduplication_id in seen
            seen.setdefault(deduplication_id, now)
            counter = self.__dict__.get("_labs_sequence", 0) + 1
            self._labs_sequence = counter
        if duplicate:  # accepted, not delivered
            message_id = str(models.mock_random.uuid4())
        else:
            message_id = deliver(self, message, subject, message_attributes, group_id, deduplication_id,
                                 message_structure)
        _sequence_numbers[message_id] = f"{10**19 + counter * 1000:020d}"
        return message_id

    models.Topic.publish = publish

    answer_publish, answer_batch = responses.SNSResponse.publish, responses.SNSResponse.publish_batch

    def publish_response(self):
        result = answer_publish(self)
        number = _sequence_numbers.pop(result.result.get("MessageId"), None)
        if number:
            result.result["SequenceNumber"] = number
        return result

    def publish_batch_response(self):
        result = answer_batch(self)
        for entry in result.result.get("Successful", []):
            number = _sequence_numbers.pop(entry["MessageId"], None)
            if number:
                entry["SequenceNumber"] = number
        return result

    responses.SNSResponse.publish = publish_response
    responses.SNSResponse.publish_batch = publish_batch_response
