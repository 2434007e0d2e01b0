"""SQS: every operation costs the same at any queue depth (MOTO_GAPS: "SQS operations are O(queue depth)").

moto 5.2.5 keeps a queue's messages in one list and answers every question by scanning it:
the approximate counts (computed on each send and receive, one clock read per message),
the visible messages a receive walks, the receipt handle a delete or a visibility change
looks for, the deduplication ids a FIFO send compares. Draining a backlog of n messages
costs O(n^2), so a few thousand messages hang a notebook's kernel. AWS answers in constant time.

Here each queue keeps an index beside moto's own message objects (``_Store``):

* ``by_seq``: every message, in moto's order (the order they entered the queue);
* ``ready``: a heap of the messages that are visible and not delayed, by that order,
  so a receive takes the first ones without looking at the rest;
* ``timers``: a heap of the moments a delayed or in-flight message becomes ready, so the
  counts follow the clock without rescanning;
* receipt handles and FIFO deduplication ids, looked up in a dict.

Two constant costs go too, with the same results: moto converts each attribute name from
CamelCase character by character on every send (now remembered), and builds each 185-letter
receipt handle one ``random.choice`` at a time (now one ``random.choices``, same alphabet and
length, from moto's own seedable random).

Nothing else changes: the same ``Message`` objects, the same rules in the same order (moto's
receive loop is followed step by step, quirks included), the same errors. tests/sandbox/
test_sqs_semantics.py runs one set of tests against bare moto and against this mend.
"""
from __future__ import annotations

import heapq
import itertools
from collections import Counter
from copy import deepcopy

_VISIBILITY, _DELAY = "visibility", "delay"
_originals: dict[tuple[type, str], object] = {}


# --- the index -------------------------------------------------------------------------------

class _Store:
    """One queue's messages, indexed by what moto asks of them. The caller holds the queue's lock."""

    def __init__(self, messages=()) -> None:
        self.by_seq: dict[int, object] = {}  # seq -> Message, in the order they entered
        self.seq_of: dict[int, int] = {}  # id(Message) -> seq
        self.by_handle: dict[str, object] = {}  # every receipt handle a message here has had -> Message
        self.by_dedup: dict[object, dict[int, object]] = {}  # deduplication id -> {seq: Message}
        self.ready: list[int] = []  # heap of seqs that were visible and not delayed when pushed
        self.in_ready: set[int] = set()  # seqs with an entry in ``ready``
        self.timers: list[tuple[float, int, str]] = []  # heap of (due ms, seq, what ends then)
        self.invisible: set[int] = set()
        self.delayed: set[int] = set()
        self.waiting: set[int] = set()  # invisible or delayed (or both)
        self._next = itertools.count()
        now = _now_ms()
        for message in messages:
            self.add(message, now)

    # -- membership ---------------------------------------------------------------------------
    def add(self, message, now: float) -> None:
        seq = next(self._next)
        self.by_seq[seq] = message
        self.seq_of[id(message)] = seq
        self.index_handles(message)
        self.by_dedup.setdefault(message.deduplication_id, {})[seq] = message
        self.classify(message, now)

    def remove(self, message) -> None:
        seq = self.seq_of.pop(id(message))
        del self.by_seq[seq]
        for handle in message.all_receipt_handles:
            self.by_handle.pop(handle, None)
        twins = self.by_dedup.get(message.deduplication_id, {})
        twins.pop(seq, None)
        if not twins:
            self.by_dedup.pop(message.deduplication_id, None)
        self.invisible.discard(seq)
        self.delayed.discard(seq)
        self.waiting.discard(seq)  # heap entries of a removed seq are dropped when they surface

    def index_handles(self, message) -> None:
        for handle in message.all_receipt_handles:
            if handle is not None:
                self.by_handle[handle] = message

    def __len__(self) -> int:
        return len(self.by_seq)

    def in_order(self) -> list:
        return list(self.by_seq.values())

    # -- state over time -------------------------------------------------------------------------
    def classify(self, message, now: float, later: list | None = None) -> None:
        """File the message by moto's own tests (``Message.visible`` / ``delayed``) at ``now``.

        A message still waiting gets a timer, pushed at once or, during ``advance``, into ``later``.
        """
        seq = self.seq_of[id(message)]
        timers = []
        for waiting, members, due, what in ((not now > message.visible_at, self.invisible, message.visible_at,
                                             _VISIBILITY),
                                            (now < message.delayed_until, self.delayed, message.delayed_until, _DELAY)):
            if waiting:
                members.add(seq)
                timers.append((due, seq, what))
            else:
                members.discard(seq)
        if timers:
            self.waiting.add(seq)
        else:
            self.waiting.discard(seq)
            if seq not in self.in_ready:
                heapq.heappush(self.ready, seq)
                self.in_ready.add(seq)
        if later is not None:
            later.extend(timers)
        else:
            for timer in timers:
                heapq.heappush(self.timers, timer)

    def advance(self, now: float) -> None:
        """Let the clock reach ``now``: delays and visibility timeouts that ended make messages ready."""
        later: list = []
        while self.timers and self.timers[0][0] <= now:
            due, seq, what = heapq.heappop(self.timers)
            message = self.by_seq.get(seq)
            if message is None or due != (message.visible_at if what == _VISIBILITY else message.delayed_until):
                continue  # removed, or its timeout was changed since: a newer timer stands for it
            self.classify(message, now, later)
        for timer in later:  # still waiting (its due time is this very millisecond): look again next time
            heapq.heappush(self.timers, timer)

    def pop_ready(self):
        """The first message (in queue order) that is visible and not delayed, taken off ``ready``."""
        while self.ready:
            seq = heapq.heappop(self.ready)
            self.in_ready.discard(seq)
            message = self.by_seq.get(seq)
            if message is not None and seq not in self.waiting:
                return message
        return None

    def has_ready(self, now: float) -> bool:
        self.advance(now)
        while self.ready:
            seq = self.ready[0]
            if seq in self.by_seq and seq not in self.waiting:
                return True
            heapq.heappop(self.ready)
            self.in_ready.discard(seq)
        return False

    def counts(self, now: float) -> tuple[int, int, int]:
        """(visible and not delayed, not visible, delayed): moto's three approximate counts."""
        self.advance(now)
        return len(self.by_seq) - len(self.waiting), len(self.invisible), len(self.delayed)


class _PendingSet(set):
    """moto's set of received, not yet deleted messages, counting them by FIFO group as it goes."""

    def __init__(self, messages=()) -> None:
        super().__init__()
        self.groups: Counter = Counter()
        for message in messages:
            self.add(message)

    def add(self, message) -> None:
        if message not in self:
            super().add(message)
            if message.group_id is not None:
                self.groups[message.group_id] += 1

    def discard(self, message) -> None:
        if message in self:
            super().discard(message)
            if message.group_id is not None:
                self.groups[message.group_id] -= 1
                if not self.groups[message.group_id]:
                    del self.groups[message.group_id]

    def remove(self, message) -> None:
        if message not in self:
            raise KeyError(message)
        self.discard(message)

    def clear(self) -> None:
        super().clear()
        self.groups.clear()


def _now_ms() -> float:
    from moto.sqs import models

    return models.unix_time_millis()  # looked up each time: moto's clock, frozen or not


def _store(queue) -> _Store:
    store = queue.__dict__.get("_labs_store")
    if store is None:  # a queue made before the mend: index what it holds
        store = queue.__dict__["_labs_store"] = _Store(queue.__dict__.pop("_messages", []))
    return store


# --- Queue: the same attributes and methods, answered from the index -----------------------------------

def _get_messages(queue) -> list:
    return _store(queue).in_order()


def _set_messages(queue, messages) -> None:
    queue.__dict__.pop("_messages", None)
    queue.__dict__["_labs_store"] = _Store(messages)


def _get_pending(queue) -> _PendingSet:
    pending = queue.__dict__.get("_labs_pending")
    if pending is None:
        pending = queue.__dict__["_labs_pending"] = _PendingSet(queue.__dict__.pop("_pending_messages", ()))
    return pending


def _set_pending(queue, messages) -> None:
    queue.__dict__.pop("_pending_messages", None)
    queue.__dict__["_labs_pending"] = _PendingSet(messages)


def _counts(queue) -> tuple[int, int, int]:
    with queue._messages_lock:
        return _store(queue).counts(_now_ms())


def _visible_messages(queue) -> list:
    """moto's ``Queue.messages``: visible and not delayed, in order (lessons never need it: O(depth))."""
    with queue._messages_lock:
        store = _store(queue)
        store.advance(_now_ms())
        return [m for seq, m in store.by_seq.items() if seq not in store.waiting]


def _pending_message_groups(queue) -> set:
    return set(_get_pending(queue).groups)


def _add_message(queue, message) -> None:
    from moto.sqs import models

    store = _store(queue)
    with queue._messages_lock:
        if queue.fifo_queue and (queue.attributes.get("ContentBasedDeduplication") == "true"
                                 or message.deduplication_id):
            for twin in store.by_dedup.get(message.deduplication_id, {}).values():
                # the same window moto applies (DEDUPLICATION_TIME_IN_SECONDS) to the same pairs
                if (message.sent_timestamp - twin.sent_timestamp) / 1000 < models.DEDUPLICATION_TIME_IN_SECONDS:
                    return
        store.add(message, _now_ms())
        queue._messages_lock.notify_all()
    _invoke_event_source_mappings(queue)


def _invoke_event_source_mappings(queue) -> None:
    """moto's own Lambda event source mappings, unchanged (the course's runtime does not use them)."""
    from moto.sqs import models

    for arn, esm in queue.lambda_event_source_mappings.items():
        if not esm.enabled:
            continue
        backend = models.sqs_backends[queue.account_id][queue.region]
        messages = backend.receive_message(queue.name, esm.batch_size, queue.receive_message_wait_time_seconds,
                                           queue.visibility_timeout)
        from moto.awslambda.utils import get_backend

        if get_backend(queue.account_id, queue.region).send_sqs_batch(arn, messages, queue.queue_arn):
            for m in messages:
                backend.delete_message(queue.name, m.receipt_handle)
        else:
            for m in messages:
                backend.change_message_visibility(queue.name, m.receipt_handle, visibility_timeout=0)


def _delete_message(queue, receipt_handle: str) -> None:
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    with queue._messages_lock:
        if receipt_handle in queue.deleted_messages:
            return  # already deleted: deleting again is fine, as in moto
        store = _store(queue)
        message = store.by_handle.get(receipt_handle)
        if message is None:
            raise ReceiptHandleIsInvalid()
        queue.pending_messages.discard(message)
        queue.deleted_messages.update(message.all_receipt_handles)
        store.remove(message)


def _wait_for_messages(queue, timeout: int) -> None:
    with queue._messages_lock:
        queue._messages_lock.wait_for(lambda: _store(queue).has_ready(_now_ms()), timeout=timeout)


# --- SQSBackend: receive, change visibility and purge through the index --------------------------------

def _receive_message(backend, queue_name: str, count: int, wait_seconds_timeout: int, visibility_timeout: int,
                     message_attribute_names: list[str] | None = None) -> list:
    """moto's receive loop, step for step, walking only the messages it can hand out."""
    from moto.sqs import models

    if message_attribute_names is None:
        message_attribute_names = []
    queue = backend.get_queue(queue_name)
    result: list = []
    previous_result_count = 0
    polling_end = models.unix_time() + wait_seconds_timeout
    with queue._messages_lock:
        pending_groups = _pending_message_groups(queue)
    while True:
        if result or (wait_seconds_timeout and models.unix_time() > polling_end):
            break
        with queue._messages_lock:
            to_dlq, pending_groups = _receive_pass(backend, queue, count, visibility_timeout,
                                                   message_attribute_names, result, pending_groups)
        for message in to_dlq:  # outside this queue's lock: the DLQ takes its own
            queue.dead_letter_queue.add_message(message)
        if previous_result_count == len(result):
            if wait_seconds_timeout == 0:
                break  # no timeout and nothing more: moto stops here too
            queue.wait_for_messages(1)
            continue
        previous_result_count = len(result)
    return result


def _receive_pass(backend, queue, count, visibility_timeout, attribute_names, result, pending_groups):
    """One walk over the ready messages, as moto's ``for message in queue.messages`` does."""
    from moto.sqs import models

    store = _store(queue)
    store.advance(_now_ms())
    pending = queue.pending_messages
    passed_over, received, to_dlq = [], [], []
    while len(result) < count:
        message = store.pop_ready()
        if message is None:
            break
        if message in pending:
            # The message is pending but is visible again, so the consumer must have timed out.
            pending.remove(message)
            pending_groups = set(pending.groups)
        if message.group_id and queue.fifo_queue and message.group_id in pending_groups:
            passed_over.append(message)  # its group is being processed: it waits, in its place
            continue
        if (queue.dead_letter_queue is not None and queue.redrive_policy
                and message.approximate_receive_count >= queue.redrive_policy["maxReceiveCount"]):
            to_dlq.append(message)
            continue
        pending.add(message)
        message.mark_received(visibility_timeout=visibility_timeout)
        store.index_handles(message)
        received.append(message)
        message_copy = deepcopy(message)
        models._filter_message_attributes(message_copy, attribute_names)
        if not backend.is_message_valid_based_on_retention_period(queue.name, message):
            break
        result.append(message_copy)
    now = _now_ms()
    for message in passed_over + received:  # back in their places (a receive never hands one out twice)
        store.classify(message, now)
    for message in to_dlq:
        store.remove(message)
    return to_dlq, pending_groups


def _change_message_visibility(backend, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
    from moto.sqs import models
    from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid

    queue = backend.get_queue(queue_name)
    with queue._messages_lock:
        store = _store(queue)
        message = store.by_handle.get(receipt_handle)
        if message is None:
            raise ReceiptHandleIsInvalid
        visibility_timeout_msec = int(visibility_timeout) * 1000
        given_visibility_timeout = models.unix_time_millis() + visibility_timeout_msec
        if given_visibility_timeout - message.sent_timestamp > 43200 * 1000:
            raise InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                "VisibilityTimeout for the message is beyond the limit [43200 seconds]"
            )
        message.change_visibility(visibility_timeout)
        if message.visible and message in queue.pending_messages:
            queue.pending_messages.remove(message)
        store.classify(message, _now_ms())
        queue._messages_lock.notify_all()


def _is_message_valid_based_on_retention_period(backend, queue_name: str, message) -> bool:
    """moto's test, reading the one attribute it needs (moto builds every attribute three times for it)."""
    from moto.sqs import models

    retention_period = backend.get_queue(queue_name).message_retention_period
    return retention_period + message.sent_timestamp / 1000 > models.unix_time()


def _generate_receipt_handle() -> str:
    """moto's receipt handle (185 lowercase letters from moto's random), in one call instead of 185."""
    import string

    from moto.moto_api._internal import mock_random

    return "".join(mock_random.choices(string.ascii_lowercase, k=185))


# --- apply / undo ----------------------------------------------------------------------------------

def _patches() -> dict[tuple[object, str], object]:
    import functools

    from moto.sqs import models
    from moto.sqs.models import Queue, SQSBackend

    return {  # apply() runs this only on bare moto: these are moto's own functions
        (models, "camelcase_to_underscores"): functools.lru_cache(maxsize=256)(models.camelcase_to_underscores),
        (models, "generate_receipt_handle"): _generate_receipt_handle,
        (Queue, "_messages"): property(_get_messages, _set_messages),
        (Queue, "_pending_messages"): property(_get_pending, _set_pending),
        (Queue, "messages"): property(_visible_messages),
        (Queue, "pending_message_groups"): property(_pending_message_groups),
        (Queue, "approximate_number_of_messages"): property(lambda q: _counts(q)[0]),
        (Queue, "approximate_number_of_messages_not_visible"): property(lambda q: _counts(q)[1]),
        (Queue, "approximate_number_of_messages_delayed"): property(lambda q: _counts(q)[2]),
        (Queue, "add_message"): _add_message,
        (Queue, "delete_message"): _delete_message,
        (Queue, "wait_for_messages"): _wait_for_messages,
        (SQSBackend, "receive_message"): _receive_message,
        (SQSBackend, "change_message_visibility"): _change_message_visibility,
        (SQSBackend, "is_message_valid_based_on_retention_period"): _is_message_valid_based_on_retention_period,
    }


def applied() -> bool:
    return bool(_originals)


def apply() -> None:
    """Index every SQS queue (idempotent). Queues made before keep their messages."""
    if _originals:
        return
    for (owner, name), replacement in _patches().items():
        _originals[(owner, name)] = owner.__dict__.get(name)
        setattr(owner, name, replacement)


def undo() -> None:
    """Bare moto again (for side-by-side measurements and tests). Queues made meanwhile lose their index."""
    from moto.sqs import models

    for (owner, name), original in _originals.items():
        if original is None:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    _originals.clear()
    for accounts in models.sqs_backends.values():  # give queues made under the mend moto's own fields back
        for backend in accounts.values():
            for queue in backend.queues.values():
                store = queue.__dict__.pop("_labs_store", None)
                pending = queue.__dict__.pop("_labs_pending", None)
                queue.__dict__["_messages"] = store.in_order() if store else queue.__dict__.get("_messages", [])
                queue.__dict__["_pending_messages"] = set(pending) if pending else \
                    queue.__dict__.get("_pending_messages", set())
