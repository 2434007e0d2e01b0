"""The local Lambda runtime: wires handlers to queues, rules, topics, streams and
schedules, and runs them step by step or in the background.

Step by step (tests and most notebook cells)::

    runtime = LocalRuntime()
    runtime.on_queue(queue_url, lambda_handler, batch_size=10)
    runtime.deliver_due()        # one pass: every source hands over what is due now
    runtime.run_until_quiet()    # repeat, skipping retry waits, until nothing is left

In the background (consumers working at their own pace)::

    with runtime.running():
        ...                      # publish; each source polls in its own thread
"""
from __future__ import annotations

import contextlib
import re
import threading
import time
import warnings
import weakref

from botocore.exceptions import ClientError, EndpointConnectionError

from labs import sandbox
from labs.sandbox import provision
from labs.observe import recorder
from labs.runtime import shapes
from labs.sandbox.clock import clock
from labs.course.limits import LAMBDA_TIMEOUT_SECONDS, require_within
from labs.observe import recording
from labs.runtime import recursion
from labs.runtime.context import LambdaContext
from labs.runtime.destinations import AsyncConfig
from labs.runtime.invoke import Handler, Invocation, refuse_if_abandoned, still_running
from labs.runtime.sources import (AsyncSource, KinesisSource, ScheduleSource, SchedulerSource, Source, SqsSource,
                                  StreamSource, identity)
from labs.runtime.sources.pipes import PipeQueueSource, PipeStreamSource, pipe_source
from labs.runtime.sources.shards import NO_AT_TIMESTAMP_ON_DYNAMODB, StreamPolicy
from labs.runtime.sources.polling import forget_parked_on_reset

QUIET_LIMIT_SECONDS = 4 * 3600  # run_until_quiet stops skipping beyond this (runaway retries)
MAX_BACKOFF_SECONDS = 5.0  # a background consumer whose polls keep failing waits at most this long

# The runtime that holds each mapping (function, origin, kind) in this kernel: one consumer
# per mapping, as on AWS. A cell run again that wires it anew takes it over.
_holders: dict[tuple, weakref.ref] = {}
_holders_lock = threading.Lock()


def _watch_kernel() -> None:
    """What every runtime relies on, set up once when the first runtime is made."""
    forget_parked_on_reset()
    recursion.track()
    recording.watch_publishes(before=_refuse_late_sends)


def _refuse_late_sends(service: str, operation: str, params: dict) -> None:
    refuse_if_abandoned()


class LocalRuntime:
    def __init__(self, delivery=None) -> None:
        self.delivery = delivery  # e.g. labs.runtime.delivery.RealisticDelivery(seed=1); None: moto's exact delivery
        self.sources: list[Source] = []
        self.functions: dict[str, AsyncSource] = {}  # Lambda functions other services reach by ARN
        self._consumers: dict[tuple, tuple[threading.Thread, threading.Event]] = {}  # background threads
        self._poll_interval: float | None = None  # set while running in the background
        _watch_kernel()

    def _add(self, source: Source) -> Source:
        """Wire ``source``; one wired before with the same identity (a cell run again) is replaced,
        in this runtime or in an earlier one of this kernel (its background consumer stops)."""
        key = identity(source)
        with _holders_lock:
            previous = _holders.get(key)
            previous = previous() if previous is not None else None
            _holders[key] = weakref.ref(self)
        if previous is not None and previous is not self:
            previous._unwire(key)
            recorder.record("note", source.name, source.function_name, "replaced", detail=(
                "前の LocalRuntime に同じ関数とイベントソースの組がありました。AWS では 1 つの組に消費者は 1 つなので、"
                "前の方を止めてこちらに置き換えました"))
        self._unwire(key)
        self.sources.append(source)
        if self._poll_interval is not None:
            self._start_consumer(source)
        return source

    def _unwire(self, key: tuple) -> None:
        """Stop and forget the source wired as ``key`` (if any)."""
        self._stop_consumer(key)
        self.sources = [s for s in self.sources if identity(s) != key]

    def invocations(self, function_name: str | None = None, since: float | None = None) -> list[Invocation]:
        """Every invocation made (of ``function_name`` only, if given), in the order they started.

        ``since``: only those started at or after this reading of the runtime clock.
        """
        calls = [call for source in self.sources for call in source.invocations
                 if function_name in (None, call.function_name) and (since is None or call.started >= since)]
        return sorted(calls, key=lambda call: call.started)

    # -- wiring ----------------------------------------------------------------------------
    def on_queue(self, queue_url: str, handler: Handler, *, function_name: str | None = None,
                 batch_size: int = 10, report_batch_item_failures: bool = True, timeout: int = 30,
                 filter_criteria: dict | None = None, maximum_concurrency: int | None = None,
                 reserved_concurrency: int | None = None) -> SqsSource:
        """An SQS event source mapping from ``queue_url`` to ``handler``.

        ``report_batch_item_failures`` defaults to True here, because every lesson wants it; on
        AWS it is off unless you list ``ReportBatchItemFailures`` in ``FunctionResponseTypes``.
        ``filter_criteria`` (``{"Filters": [{"Pattern": ...}]}``): a message no filter matches is
        deleted without invoking the function, as on AWS.
        ``maximum_concurrency`` (``ScalingConfig.MaximumConcurrency``, 2-1000): each poll hands over up
        to that many batches at once; without it, one (AWS would scale from 5 to 1,000 batches).
        ``reserved_concurrency``: the function's reserved concurrency; batches beyond it are throttled
        and return to the queue after the visibility timeout, their receive count grown.
        """
        name = function_name or handler.__name__
        _check_timeout(timeout)
        source = SqsSource(queue_url, handler, name, batch_size, report_batch_item_failures, timeout,
                           delivery=self.delivery, filter_criteria=filter_criteria,
                           maximum_concurrency=maximum_concurrency, reserved_concurrency=reserved_concurrency)
        return self._add(source)

    def on_rule(self, bus: str, rule: str, handler: Handler, *, function_name: str | None = None,
                timeout: int = 30, **async_settings) -> AsyncSource:
        """Make ``handler`` a target of the EventBridge rule ``rule`` on ``bus`` (an async invocation).

        ``async_settings`` are the function's, as on AWS (see ``labs.runtime.destinations``):
        ``on_failure=`` / ``on_success=`` a queue (URL, name or ARN), a topic or bus ARN, or another
        handler; ``dead_letter_queue=`` a queue or topic; ``maximum_retry_attempts=`` 0-2 (2);
        ``maximum_event_age_seconds=`` 60-21600 (21600). With neither ``on_failure`` nor
        ``dead_letter_queue``, an event that fails every try is discarded, as Lambda does.
        """
        name = function_name or handler.__name__
        _check_timeout(timeout)
        config = self._async_config(async_settings)  # refused before anything is made
        queue_url = self._function_queue(name, rule)
        provision.ensure_rule(bus, rule, queue_url=queue_url, target_id=f"lambda-{name}")
        return self._add(AsyncSource(queue_url, handler, name, shapes.eventbridge_event, origin=f"{bus}/{rule}",
                                     timeout=timeout, config=config))

    def on_topic(self, topic_arn: str, handler: Handler, *, function_name: str | None = None,
                 filter_policy: dict | None = None, filter_on_body: bool = False, timeout: int = 30,
                 **async_settings) -> AsyncSource:
        """Subscribe ``handler`` to an SNS topic (the ``Records[].Sns`` event); ``async_settings`` as in on_rule."""
        name = function_name or handler.__name__
        _check_timeout(timeout)
        config = self._async_config(async_settings)
        topic = topic_arn.rsplit(":", 1)[-1]
        queue_url = self._function_queue(name, topic)
        subscription = provision.ensure_subscription(
            topic_arn, queue_url, filter_policy=filter_policy, filter_on_body=filter_on_body
        )
        return self._add(AsyncSource(queue_url, handler, name,
                                     lambda envelope: shapes.sns_record(envelope, subscription),
                                     origin=topic, timeout=timeout, config=config))

    def _async_config(self, settings: dict) -> AsyncConfig:
        allowed = {"on_success", "on_failure", "dead_letter_queue", "maximum_retry_attempts", "maximum_event_age_seconds"}
        unknown = sorted(set(settings) - allowed)
        if unknown:
            raise TypeError(f"知らない設定です: {', '.join(unknown)} (使えるのは {', '.join(sorted(allowed))})")
        return AsyncConfig.build(function_queue=self._destination_function, **settings)

    def _destination_function(self, handler: Handler) -> str:
        """Another function as a destination: it is invoked asynchronously with the record."""
        name = handler.__name__
        queue_url = self._function_queue(name, "destination")
        self._add(AsyncSource(queue_url, handler, name, lambda record: record, origin="lambda-destination"))
        return queue_url

    def on_stream(self, table_name: str, handler: Handler, *, function_name: str | None = None,
                  batch_size: int = 100, maximum_batching_window_in_seconds: float = 0,
                  starting_position: str = "TRIM_HORIZON", bisect_batch_on_function_error: bool = False,
                  maximum_retry_attempts: int = 2, maximum_record_age_in_seconds: int = -1,
                  on_failure: str | None = None, report_batch_item_failures: bool = False,
                  filter_criteria: dict | None = None, timeout: int = 30) -> StreamSource:
        """A DynamoDB Streams event source mapping (the table needs a stream); the same
        parameters as on_kinesis, read by the same poller.

        ``maximum_retry_attempts`` defaults to 2 so that a failing handler ends in a notebook;
        AWS's default is -1 (retry until the records expire after 24 hours).
        ``filter_criteria``: records no filter matches are skipped (the function never sees them).
        """
        name = function_name or handler.__name__
        _check_timeout(timeout)
        if starting_position == "AT_TIMESTAMP":  # API_CreateEventSourceMapping.html: "Kinesis only"
            raise ValueError(NO_AT_TIMESTAMP_ON_DYNAMODB)
        policy = StreamPolicy(batch_size, maximum_batching_window_in_seconds, starting_position, None,
                              maximum_retry_attempts, maximum_record_age_in_seconds, bisect_batch_on_function_error)
        return self._add(StreamSource(table_name, handler, name, policy,
                                      report_batch_item_failures=report_batch_item_failures,
                                      on_failure=on_failure, filter_criteria=filter_criteria, timeout=timeout))

    def on_kinesis(self, stream: str, handler: Handler, *, function_name: str | None = None,
                   batch_size: int = 100, maximum_batching_window_in_seconds: float = 0,
                   starting_position: str = "TRIM_HORIZON", starting_position_timestamp=None,
                   bisect_batch_on_function_error: bool = False, maximum_retry_attempts: int = -1,
                   maximum_record_age_in_seconds: int = -1, on_failure: str | None = None,
                   report_batch_item_failures: bool = False, filter_criteria: dict | None = None,
                   timeout: int = 30) -> KinesisSource:
        """A Kinesis event source mapping (``CreateEventSourceMapping``'s parameters, AWS's defaults).

        ``maximum_retry_attempts`` and ``maximum_record_age_in_seconds`` default to -1 as on AWS:
        a record that always fails holds its shard until it expires. ``on_failure``: an SQS queue
        (name, URL or ARN) or SNS topic ARN that receives where discarded records were.
        ``report_batch_item_failures`` is off unless you turn it on, as on AWS.
        """
        name = function_name or handler.__name__
        _check_timeout(timeout)
        policy = StreamPolicy(batch_size, maximum_batching_window_in_seconds, starting_position,
                              starting_position_timestamp, maximum_retry_attempts, maximum_record_age_in_seconds,
                              bisect_batch_on_function_error)
        return self._add(KinesisSource(stream, handler, name, policy,
                                       report_batch_item_failures=report_batch_item_failures,
                                       on_failure=on_failure, filter_criteria=filter_criteria, timeout=timeout))

    def on_pipe(self, name: str, *, functions: dict[str, Handler] | None = None) -> PipeQueueSource | PipeStreamSource:
        """Run the EventBridge pipe ``name`` made with ``boto3.client("pipes").create_pipe(...)``.

        ``functions``: the handlers of the Lambda functions the pipe names (enrichment, target),
        by function name: ``{"enrich-order": enrich_order}``. The pipe is read back from the
        sandbox on every poll, so ``stop_pipe`` and ``update_pipe`` take effect.
        """
        return self._add(pipe_source(name, functions))

    def on_pipes(self, *, functions: dict[str, Handler] | None = None) -> list[PipeQueueSource | PipeStreamSource]:
        """Run every pipe in the sandbox (see on_pipe)."""
        names = [p["Name"] for p in sandbox.client("pipes").list_pipes()["Pipes"]]
        return [self.on_pipe(name, functions=functions) for name in names]

    def on_schedule(self, bus: str, rule: str, handler: Handler, *, function_name: str | None = None,
                    timeout: int = 30) -> ScheduleSource:
        """Fire ``handler`` when the clock passes the scheduled rule's times (see advance())."""
        name = function_name or handler.__name__
        return self._add(ScheduleSource(bus, rule, handler, name, timeout))

    def on_function(self, function_name: str, handler: Handler, *, timeout: int = 30) -> str:
        """A Lambda function other services invoke by its ARN (EventBridge Scheduler's targets).

        Invoked asynchronously, as Scheduler does: one event per invocation, two retries, then the
        function's failure queue. Returns the function's ARN, for a schedule's ``Target``.
        """
        queue_url = self._function_queue(function_name, "async")
        source = AsyncSource(queue_url, handler, function_name, lambda payload: payload,
                             origin=f"lambda:{function_name}", timeout=timeout)
        self.functions[function_name] = self._add(source)
        return LambdaContext(function_name).invoked_function_arn

    def on_scheduler(self) -> SchedulerSource:
        """EventBridge Scheduler: fire every schedule made with boto3.client("scheduler"), on the clock.

        Targets: SQS queues, SNS topics, EventBridge buses and functions wired with on_function().
        """
        def function_queue(name: str) -> str | None:
            source = self.functions.get(name)
            return source.queue_url if source else None

        return self._add(SchedulerSource(function_queue))

    @staticmethod
    def _function_queue(function_name: str, origin: str) -> str:
        """The internal queue standing for Lambda's async event queue (what becomes of an event
        that keeps failing is the AsyncSource's to decide, by the function's settings)."""
        # SQS names allow letters, digits, - and _ only (a lambda's name is "<lambda>").
        base = re.sub(r"[^A-Za-z0-9_-]", "-", f"lambda-{function_name}-{origin}")[:70]
        return provision.ensure_queue(base, visibility_timeout=900)

    # -- running step by step ---------------------------------------------------------------
    def deliver_due(self) -> int:
        """One pass: each source hands over what is due now. Returns invocations made."""
        return sum(_poll(source) for source in list(self.sources))

    def run_until_quiet(self, max_seconds: float = QUIET_LIMIT_SECONDS, max_invocations: int = 10_000) -> int:
        """Deliver until nothing is left, skipping each retry wait. Returns invocations made.

        Stops early (and says so) past ``max_seconds`` on the clock or ``max_invocations``:
        a message that fails for ever on a queue without a DLQ would otherwise never end.
        """
        started, made = clock.now(), 0
        while made < max_invocations:
            made_now = self.deliver_due()
            made += made_now
            if made_now:
                continue
            due = [d for s in self.sources for d in [s.next_due()] if d is not None]
            if not due:
                return made  # quiet
            if min(due) - started > max_seconds:
                break
            clock.skip_to(min(due))
        recorder.record("note", "runtime", "run_until_quiet", "error", detail=(
            f"打ち切りました: {made} 回呼び出し、まだ {self.parked} 件が再試行待ちです (DLQ はありますか?)"))
        return made

    def advance(self, seconds: float) -> int:
        """Let ``seconds`` pass (schedules fire, retries come due), then run until quiet."""
        clock.skip(seconds)
        return self.run_until_quiet()

    @property
    def parked(self) -> int:
        """Messages waiting out a visibility timeout or retry delay."""
        return sum(s.parked for s in self.sources)

    # -- running in the background -------------------------------------------------------------
    def start(self, poll_interval: float = 0.02) -> None:
        """Each source polls in its own thread until stop(): consumers at their own pace."""
        if self._poll_interval is not None:
            return
        self._poll_interval = poll_interval
        for source in self.sources:
            self._start_consumer(source)

    def _start_consumer(self, source: Source) -> None:
        stop = threading.Event()
        thread = threading.Thread(target=_consume, args=(source, stop, self._poll_interval), daemon=True,
                                  name=f"consumer:{source.function_name}:{source.name}")
        self._consumers[identity(source)] = (thread, stop)
        thread.start()

    def _stop_consumer(self, key: tuple, wait: float = 10.0) -> threading.Thread | None:
        """Stop one background consumer; returns its thread if it is still busy after ``wait``."""
        thread, stop = self._consumers.pop(key, (None, None))
        if thread is None:
            return None
        stop.set()
        if thread is not threading.current_thread():
            thread.join(timeout=wait)
        return thread if thread.is_alive() else None

    def stop(self, wait: float = 10.0) -> None:
        """Stop the background consumers (waiting up to ``wait`` seconds for each);
        say so if a handler is still running afterwards."""
        busy = [t for key in list(self._consumers) if (t := self._stop_consumer(key, wait)) is not None]
        self._poll_interval = None
        names = {s.function_name for s in self.sources}
        running = [call for call in still_running() if call.function_name in names]
        if busy or running:
            message = (
                f"stop() の後もハンドラーが動いています: {', '.join(sorted({c.function_name for c in running}) or '?')}"
                "。Python はスレッドを止められないので、終わるまで AWS への送信は拒否し、終わったら記録に残します "
                "(a handler is still running after stop(); its late sends are refused)")
            recorder.record("note", "runtime", ", ".join(sorted(names)), "late", len(running) or len(busy), message)
            warnings.warn(message, RuntimeWarning, stacklevel=2)

    @contextlib.contextmanager
    def running(self, poll_interval: float = 0.02):
        self.start(poll_interval)
        try:
            yield self
        finally:
            self.stop()

    def wait_until_quiet(self, timeout: float = 30.0, settle: float = 0.2) -> bool:
        """In background mode: wait until no source has had work for ``settle`` seconds."""
        deadline = time.monotonic() + timeout
        last = len(recorder.records)
        quiet_since = time.monotonic()
        names = {s.function_name for s in self.sources}
        while time.monotonic() < deadline:
            time.sleep(0.05)
            busy = self.parked or any(call.function_name in names for call in still_running())
            if len(recorder.records) != last or busy:
                last, quiet_since = len(recorder.records), time.monotonic()
            elif time.monotonic() - quiet_since >= settle:
                return True
        return False


def _check_timeout(timeout) -> None:
    require_within("timeout", timeout, LAMBDA_TIMEOUT_SECONDS, "Lambda function timeout is 1-900 seconds")


def _consume(source: Source, stop: threading.Event, poll_interval: float) -> None:
    """A background consumer: poll until told to stop; when polls fail, say so once and back off."""
    wait, failing = poll_interval, False
    while not stop.is_set():
        try:
            made = source.poll()
        except Exception as error:  # like Lambda's poller: log, back off, keep polling
            if not failing:
                _note_poll_failure(source, error, backing_off=True)
            failing, wait = True, min(MAX_BACKOFF_SECONDS, wait * 2)
            stop.wait(wait)
            continue
        if failing:
            recorder.record("note", source.name, source.function_name, "ok", detail="ポーリングが回復しました")
        failing, wait = False, poll_interval
        if not made:
            stop.wait(poll_interval)


def _poll(source: Source) -> int:
    """One poll of one source; a failure of the machinery is recorded, and the others go on."""
    try:
        return source.poll()
    except Exception as error:
        _note_poll_failure(source, error)
        return 0


def _note_poll_failure(source: Source, error: Exception, backing_off: bool = False) -> None:
    code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
    if "NonExistent" in code or "NotFound" in code or "DoesNotExist" in code:
        why = f"{source.name} がもうありません (sandbox.reset() で消えましたか?)。配線し直してください"
    elif isinstance(error, EndpointConnectionError):
        why = ("サンドボックスのサーバーに接続できません (止まりましたか?)。"
               "`python -m labs sandbox serve` で起動し直してください")
    else:
        why = f"{type(error).__name__}: {error}"
    if backing_off:
        why += f" (成功するまで間隔を最大 {MAX_BACKOFF_SECONDS:.0f} 秒まで広げて試し続け、このメモは繰り返しません)"
    recorder.record("note", source.name, source.function_name, "error", detail=f"ポーリング失敗: {why}")
