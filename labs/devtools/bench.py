"""``python -m labs.devtools.bench``: how fast the workbook is, measured side by side in one run.

Machines differ and so does their load (CI, other notebooks), so absolute seconds say
little. Every figure here is a *ratio* of two things measured in the same run, in
alternating rounds, so that a busy moment slows both sides alike:

* depth_cost: the time per message of send + receive + delete on a queue 10,000 deep over the
  same on a queue 10 deep, in the mended sandbox (goal <= 1.5: a backlog costs nothing extra;
  labs/sandbox/mends/sqs_queue_depth.py).
* mended/bare@1000: the same work at depth 1,000, throughput of the mended sandbox over bare
  moto (the mend switched off for alternate rounds).
* runtime/bare: the local Lambda runtime draining N messages (SQS -> handler) against the
  simplest boto3 receive/handle/delete loop on the same sandbox, as a ratio of throughputs
  (goal >= 0.95: the runtime's faithful event shapes and bookkeeping cost little).
* notebook/floor: ``pytest --nbval`` wall time of each solution notebook against the floor
  notebook (``bench/floor.ipynb``: imports ``labs`` and starts the sandbox, nothing else),
  run just before it (goal <= 1.5 for a lesson without deliberate waits).
* suite/floor: the whole ``make test`` against the sum of one floor per notebook it runs
  (goal <= 2.0; run with ``make -o .venv/.installed``, so timing it never reinstalls anything).
* the slowest cells, from nbval's own per-cell times, with the first line of their source.

The last two lines are what CI logs and the issues ask for::

    runtime/bare=R1 nb00/floor=R2
    depth_cost=D mended/bare@1000=M runtime/bare=R suite/floor=S slowest_cell=NAME:SECONDS

Nothing here asserts a timing: the bench reports, people judge.

``python -m labs.devtools.bench --profile solutions/NN_x.ipynb`` says *why* a cell is slow instead:
it runs the notebook's cells in one process and, for the slowest, lists the AWS calls they
made (count and seconds) and the functions that took the time (cProfile).
``--profile queue`` does the same for the queue workload at depth 10,000.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOOR = Path("bench/floor.ipynb")
RUNTIME_GOAL = 0.95
DEPTH_GOAL = 1.5
SUITE_GOAL = 2.0
NOTEBOOK_GOAL = 1.5
PROGRESS_BAR_AFTER = 2.0  # seconds: a cell slower than this should show a bar (labs.observe.progress)


# --- (a) the runtime against a bare boto3 loop ----------------------------------------

@dataclass
class DrainResult:
    messages: int
    depth: int
    runtime_seconds: float
    bare_seconds: float
    runtime_handled: int
    bare_handled: int

    @property
    def ratio(self) -> float:
        """Throughput of the runtime divided by throughput of the bare loop."""
        return self.bare_seconds / self.runtime_seconds if self.runtime_seconds else float("nan")


def drain(messages: int = 1000, depth: int = 20) -> DrainResult:
    """Drain ``messages`` through the runtime and through a bare loop, ``depth`` at a time.

    Queues are filled and drained in rounds of ``depth`` (moto's receive slows down with
    queue depth, docs/MOTO_GAPS.md), the two sides alternate round by round, and only the
    draining is timed. Both sides do the same work per message (parse the JSON body).
    """
    from labs import sandbox
    from labs.sandbox import provision
    from labs.runtime import LocalRuntime

    sandbox.start()
    sqs = sandbox.client("sqs")
    runtime_queue = provision.ensure_queue("bench-runtime")
    bare_queue = provision.ensure_queue("bench-bare")
    handled = {"runtime": 0, "bare": 0}

    def work(body: str, side: str) -> None:
        json.loads(body)
        handled[side] += 1

    def bench_handler(event, context):
        for record in event["Records"]:
            work(record["body"], "runtime")

    runtime = LocalRuntime()
    runtime.on_queue(runtime_queue, bench_handler, batch_size=10)

    def drain_runtime() -> None:
        runtime.run_until_quiet()

    def drain_bare() -> None:
        while True:
            batch = sqs.receive_message(QueueUrl=bare_queue, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return
            for message in batch:
                work(message["Body"], "bare")
            sqs.delete_message_batch(QueueUrl=bare_queue, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])

    drain_runtime(), drain_bare()  # leftovers of an earlier run on a shared sandbox: not counted
    handled.update(runtime=0, bare=0)
    seconds = {"runtime": 0.0, "bare": 0.0}
    sides = [("runtime", runtime_queue, drain_runtime), ("bare", bare_queue, drain_bare)]
    sent = 0
    for round_number in range(max(1, -(-messages // depth))):
        size = min(depth, messages - sent) or depth
        order = sides if round_number % 2 == 0 else sides[::-1]  # neither side always goes first
        for side, queue_url, drain_side in order:
            _fill(sqs, queue_url, size, sent)
            started = time.perf_counter()
            drain_side()
            seconds[side] += time.perf_counter() - started
        sent += size
    return DrainResult(sent, depth, seconds["runtime"], seconds["bare"], handled["runtime"], handled["bare"])


def _fill(sqs, queue_url: str, count: int, first: int) -> None:
    for start in range(0, count, 10):
        sqs.send_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "MessageBody": json.dumps({"n": first + start + i})}
            for i in range(min(10, count - start))])


# --- (d) SQS at depth: the mend against itself, and against bare moto ---------------------------

@dataclass
class DepthResult:
    shallow: int
    deep: int
    compared_at: int
    shallow_seconds: float  # per message, mended sandbox
    deep_seconds: float
    mended_seconds: float  # per message at ``compared_at``
    bare_seconds: float

    @property
    def depth_cost(self) -> float:
        """Time per message at the deep queue over the shallow one (1.0: depth costs nothing)."""
        return self.deep_seconds / self.shallow_seconds

    @property
    def mended_over_bare(self) -> float:
        """Throughput of the mended sandbox over bare moto's, at ``compared_at``."""
        return self.bare_seconds / self.mended_seconds


def depth(shallow: int = 10, deep: int = 10_000, compared_at: int = 1_000, rounds: int = 40,
          bare_rounds: int = 3) -> DepthResult:
    """Per-message cost of send + receive + delete on queues held at a given depth.

    Each round sends 10, receives 10 and deletes them, so the queue stays at its depth. The
    shallow and deep queues alternate round by round; so do mended and bare moto at
    ``compared_at`` (bare rounds are slow: a few of them say enough).
    """
    from labs import sandbox
    from labs.sandbox.mends import sqs_queue_depth

    sandbox.start()
    sqs = sandbox.client("sqs")
    queues = {size: _queue_at_depth(sqs, f"bench-depth-{size}", size) for size in (shallow, deep)}
    seconds = {shallow: 0.0, deep: 0.0}
    for number in range(rounds):
        for size in ((shallow, deep) if number % 2 == 0 else (deep, shallow)):
            seconds[size] += _round_trip(sqs, queues[size])
    for url in queues.values():
        sqs.delete_queue(QueueUrl=url)

    mended_url = _queue_at_depth(sqs, "bench-depth-mended", compared_at)
    bare_url = _queue_at_depth(sqs, "bench-depth-bare", compared_at)
    compared = {"mended": 0.0, "bare": 0.0}
    try:
        for number in range(2 * bare_rounds):
            side = ("mended", "bare")[number % 2]
            url = mended_url if side == "mended" else bare_url
            if side == "bare":
                sqs_queue_depth.undo()
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])  # re-indexed here, not timed
            compared[side] += _round_trip(sqs, url)
            sqs_queue_depth.apply()
    finally:
        sqs_queue_depth.apply()
        for url in (mended_url, bare_url):
            sqs.delete_queue(QueueUrl=url)
    per_side = 10 * bare_rounds
    return DepthResult(shallow, deep, compared_at, seconds[shallow] / (10 * rounds), seconds[deep] / (10 * rounds),
                       compared["mended"] / per_side, compared["bare"] / per_side)


def _queue_at_depth(sqs, name: str, size: int) -> str:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)
    _fill(sqs, url, size, 0)
    return url


def _round_trip(sqs, url: str) -> float:
    """Send 10, receive 10, delete them; the seconds it took."""
    started = time.perf_counter()
    _fill(sqs, url, 10, 0)
    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
    sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return time.perf_counter() - started


def profile_queue(deep: int = 10_000, rounds: int = 100, rows: int = 12) -> str:
    """cProfile of ``rounds`` send + receive + delete rounds on a queue ``deep`` messages deep."""
    import cProfile
    import pstats

    from labs import sandbox

    sandbox.start()
    sqs = sandbox.client("sqs")
    url = _queue_at_depth(sqs, "bench-profile", deep)
    profiler = cProfile.Profile()
    profiler.enable()
    seconds = sum(_round_trip(sqs, url) for _ in range(rounds))
    profiler.disable()
    sqs.delete_queue(QueueUrl=url)
    report = [f"queue at depth {deep}: {rounds} rounds of send 10 + receive 10 + delete 10, {seconds:.2f}s"]
    report += [f"  {cumulative:6.2f}s cum {own:6.2f}s own  {where}"
               for where, own, cumulative in _hot_functions(pstats.Stats(profiler).stats, rows)]
    return "\n".join(report)


# --- (b) notebooks under nbval against the floor ------------------------------------------

@dataclass
class Cell:
    notebook: str  # file stem, e.g. 00_introduction
    index: int  # nbval's number: the index among code cells ("Cell 3")
    seconds: float
    source: str = ""

    @property
    def name(self) -> str:
        return f"{self.notebook}#cell{self.index}"


@dataclass
class NotebookRun:
    path: Path
    seconds: float  # wall time of the whole pytest --nbval process
    passed: bool
    cells: list[Cell] = field(default_factory=list)
    summary: str = ""  # pytest's closing line

    @property
    def slowest(self) -> Cell | None:
        return max(self.cells, key=lambda c: c.seconds, default=None)


def nbval(path: Path | str, *, strict: bool = True, root: Path = ROOT, cell_timeout: int = 300) -> NotebookRun:
    """Run one notebook under ``pytest --nbval`` (strict) or ``--nbval-lax`` and time it."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "cells.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
                   "--nbval-cell-timeout", str(cell_timeout)]
        command += ["--nbval", "--nbval-sanitize-with", "tests/sanitize.cfg"] if strict else ["--nbval-lax"]
        started = time.perf_counter()
        result = subprocess.run(command + [str(path)], cwd=root, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        cells = parse_cells(junit.read_text(encoding="utf-8"), path.stem) if junit.exists() else []
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    run = NotebookRun(path, seconds, result.returncode == 0, cells, lines[-1] if lines else result.stderr[-200:])
    _attach_sources(run, root)
    return run


def parse_cells(junit_xml: str, notebook: str) -> list[Cell]:
    """nbval's per-cell times from pytest's JUnit XML (test names are "Cell N")."""
    cells = []
    for case in ET.fromstring(junit_xml).iter("testcase"):
        name = case.get("name", "")
        if name.startswith("Cell "):
            cells.append(Cell(notebook, int(name.split()[1]), float(case.get("time") or 0.0)))
    return cells


def _attach_sources(run: NotebookRun, root: Path) -> None:
    try:
        import nbformat

        notebook = nbformat.read(root / run.path, as_version=4)
    except Exception:  # a notebook being written right now: times without sources
        return
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    for cell in run.cells:
        if cell.index < len(code):
            cell.source = code[cell.index]


@dataclass
class Comparison:
    run: NotebookRun
    floor: NotebookRun  # the floor run made just before it

    @property
    def ratio(self) -> float:
        return self.run.seconds / self.floor.seconds


def compare_notebooks(paths: list[Path], floor: Path = FLOOR, root: Path = ROOT, report=print) -> list[Comparison]:
    """Each notebook right after a floor run, so both see the same load on the machine."""
    comparisons = []
    for path in paths:
        floor_run = nbval(floor, strict=False, root=root)
        run = nbval(path, strict=True, root=root)
        comparisons.append(Comparison(run, floor_run))
        report(_notebook_line(comparisons[-1]))
    return comparisons


# --- (c) the whole suite --------------------------------------------------------------------

@dataclass
class SuiteRun:
    seconds: float
    passed: bool
    notebooks: int  # notebooks nbval runs in the suite: one floor each
    log: Path


def suite(root: Path = ROOT, log: Path | None = None) -> SuiteRun:
    """Time ``make test`` as a developer runs it (its output goes to a log file).

    ``-o .venv/.installed``: the install step counts as done, so timing never reinstalls the venv.
    """
    log = log or root / "build" / "bench" / "suite.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        result = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", "test"], cwd=root, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    count = len(list((root / "solutions").glob("*.ipynb"))) + len(list((root / "notebooks").glob("*.ipynb")))
    return SuiteRun(seconds, result.returncode == 0, count, log)


# --- where a slow cell spends its time -------------------------------------------------------

def profile_notebook(path: Path | str, top: int = 3, rows: int = 8) -> str:
    """Run a notebook's code cells in this process (IPython) and explain its ``top`` slowest cells.

    For each: the AWS calls it made (operation, count, seconds; moto answers them in this
    process) and the functions that took the time (cProfile, IPython's own frames left out).
    Cell times here leave out kernel start-up and nbval's output comparison: they show
    *what* is slow, not the ratios above.
    """
    import cProfile
    import pstats

    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    os.environ.setdefault("MPLBACKEND", "agg")
    path = Path(path)
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    shell = InteractiveShell.instance()
    timed = []
    with _timing_aws_calls() as calls:
        for index, source in enumerate(code):
            calls.clear()
            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            with _quiet():
                outcome = shell.run_cell(source, store_history=True)
            profiler.disable()
            seconds = time.perf_counter() - started
            if not outcome.success:
                return f"{path.name} cell {index} failed: {outcome.error_in_exec or outcome.error_before_exec!r}"
            timed.append((seconds, index, pstats.Stats(profiler).stats, dict(calls)))
    report = [f"{path.name}: {len(code)} code cells, {sum(t[0] for t in timed):.2f}s in cells"]
    for seconds, index, stats, aws in sorted(timed, key=lambda item: -item[0])[:top]:
        report.append(f"--- {path.stem}#cell{index} {seconds:.2f}s: {_first_line(code[index])}")
        busiest = sorted(aws.items(), key=lambda item: -item[1][1])[:rows]
        if busiest:
            report.append("  AWS calls: " + ", ".join(f"{name} x{n} {t:.2f}s" for name, (n, t) in busiest))
        report += [f"  {cumulative:6.2f}s cum {own:6.2f}s own  {where}"
                   for where, own, cumulative in _hot_functions(stats, rows)]
    return "\n".join(report)


def _hot_functions(stats: dict, rows: int) -> list[tuple[str, float, float]]:
    """The functions with the most cumulative time, without IPython's and importlib's frames."""
    skip = ("IPython", "<frozen", "asyncio", "builtins.exec>", "<method 'send'", "labs/devtools/bench.py", "botocore/",
            "boto3/", "<ipython-input")
    found = []
    for (filename, line, function), (_, _, own, cumulative, _) in stats.items():
        where = f"{filename.split('site-packages/')[-1].replace(str(ROOT) + '/', '')}:{line}({function})"
        if not any(part in where for part in skip):
            found.append((where, own, cumulative))
    return sorted(found, key=lambda item: -item[2])[:rows]


class _timing_aws_calls:
    """Count and time every boto3 API call made meanwhile, by ``service.Operation``."""

    def __enter__(self) -> dict[str, tuple[int, float]]:
        from botocore.client import BaseClient

        self.calls: dict[str, tuple[int, float]] = {}
        self._original = original = BaseClient._make_api_call
        calls = self.calls

        def timed(client, operation_name, api_params):
            started = time.perf_counter()
            try:
                return original(client, operation_name, api_params)
            finally:
                name = f"{client.meta.service_model.service_name}.{operation_name}"
                count, seconds = calls.get(name, (0, 0.0))
                calls[name] = (count + 1, seconds + time.perf_counter() - started)

        BaseClient._make_api_call = timed
        return self.calls

    def __exit__(self, *exc) -> None:
        from botocore.client import BaseClient

        BaseClient._make_api_call = self._original


class _quiet:
    """Keep a profiled cell's prints and displays out of the report."""

    def __enter__(self):
        import contextlib
        import io

        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        self._stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)


# --- report -----------------------------------------------------------------------------------

def last_lines(drained: DrainResult, comparisons: list[Comparison], suite_run: SuiteRun | None,
               floor_seconds: float, deep: DepthResult | None = None) -> tuple[str, str]:
    """The two closing lines: issue 2's ``runtime/bare nb00/floor``, then issues 8's and 14's."""
    nb00 = next((c for c in comparisons if c.run.path.stem.startswith("00")), None)
    first = f"runtime/bare={drained.ratio:.2f} nb00/floor={nb00.ratio:.2f}" if nb00 else \
        f"runtime/bare={drained.ratio:.2f} nb00/floor=n/a"
    if suite_run and not suite_run.passed:
        suite_ratio = "failed"  # a suite that stopped early says nothing about its speed
    elif suite_run and floor_seconds:
        suite_ratio = f"{suite_run.seconds / (floor_seconds * suite_run.notebooks):.2f}"
    else:
        suite_ratio = "n/a"
    cells = [c for comparison in comparisons for c in comparison.run.cells]
    slowest = max(cells, key=lambda c: c.seconds, default=None)
    slowest_text = f"{slowest.name}:{slowest.seconds:.2f}" if slowest else "n/a"
    queue = f"depth_cost={deep.depth_cost:.2f} mended/bare@{deep.compared_at}={deep.mended_over_bare:.1f}" if deep \
        else "depth_cost=n/a mended/bare@1000=n/a"
    return first, (f"{queue} runtime/bare={drained.ratio:.2f} suite/floor={suite_ratio} "
                   f"slowest_cell={slowest_text}")


def _notebook_line(c: Comparison) -> str:
    verdict = "ok" if c.ratio <= NOTEBOOK_GOAL else f"over {NOTEBOOK_GOAL}"
    state = "" if c.run.passed else f"  FAILED ({c.run.summary})"
    slowest = c.run.slowest
    slow = f"  slowest {slowest.name} {slowest.seconds:.2f}s" if slowest else ""
    return (f"  {c.run.path.name:32} {c.run.seconds:6.1f}s  floor {c.floor.seconds:5.1f}s  "
            f"ratio {c.ratio:5.2f} [{verdict}]{slow}{state}")


def _first_line(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return (lines[0] if lines else "").strip()[:70]


def slow_cells(comparisons: list[Comparison], top: int = 8) -> list[str]:
    cells = sorted((c for comparison in comparisons for c in comparison.run.cells), key=lambda c: -c.seconds)
    lines = []
    for cell in cells[:top]:
        note = ""
        if cell.seconds > PROGRESS_BAR_AFTER and not any(bar in cell.source for bar in ("tqdm", "progress_bar")):
            note = "  (no progress bar)"
        lines.append(f"  {cell.seconds:6.2f}s  {cell.name:28} {_first_line(cell.source)}{note}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labs.devtools.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages each side drains (default 1000)")
    parser.add_argument("--depth", type=int, default=20, help="messages per round: the queue's depth (default 20)")
    parser.add_argument("--no-suite", action="store_true", help="skip timing the whole make test")
    parser.add_argument("--profile", action="store_true",
                        help="instead: profile the slowest cells of the given notebooks, or of the queue "
                             "workload at depth 10,000 with the word 'queue' (cProfile)")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="solution notebooks (default: solutions/*.ipynb); with --profile, 'queue' too")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if args.profile:
        for path in args.notebooks or sorted(Path("solutions").glob("*.ipynb")):
            print(profile_queue() if str(path) == "queue" else profile_notebook(path), "\n", flush=True)
        return 0

    print(f"== (a) runtime vs bare boto3 loop: {args.messages} messages, rounds of {args.depth}, interleaved", flush=True)
    drained = drain(args.messages, args.depth)
    for side, seconds, handled in (("runtime", drained.runtime_seconds, drained.runtime_handled),
                                   ("bare", drained.bare_seconds, drained.bare_handled)):
        print(f"  {side:8} {seconds:6.2f}s  {handled / seconds:7.0f} msg/s  handled {handled}")
    verdict = "ok" if drained.ratio >= RUNTIME_GOAL else f"below {RUNTIME_GOAL}"
    print(f"  runtime/bare throughput {drained.ratio:.2f} [{verdict}]", flush=True)

    print("\n== (d) SQS at depth: send + receive + delete per message", flush=True)
    deep = depth()
    print(f"  mended  depth {deep.shallow:>6,}: {1000 * deep.shallow_seconds:6.2f} ms/msg   "
          f"depth {deep.deep:,}: {1000 * deep.deep_seconds:6.2f} ms/msg   "
          f"depth_cost {deep.depth_cost:.2f} [{'ok' if deep.depth_cost <= DEPTH_GOAL else f'over {DEPTH_GOAL}'}]")
    print(f"  depth {deep.compared_at:,}: mended {1000 * deep.mended_seconds:6.2f} ms/msg, bare moto "
          f"{1000 * deep.bare_seconds:7.2f} ms/msg   mended/bare throughput {deep.mended_over_bare:.1f}",
          flush=True)

    paths = args.notebooks or sorted(Path("solutions").glob("*.ipynb"))
    print(f"\n== (b) nbval wall time vs {FLOOR} (floor run just before each notebook)", flush=True)
    comparisons = compare_notebooks(paths, report=lambda line: print(line, flush=True))
    floors = [c.floor.seconds for c in comparisons]
    floor_seconds = statistics.median(floors) if floors else 0.0
    print(f"  floor median {floor_seconds:.1f}s over {len(floors)} runs")
    print("\n== slowest cells (nbval's per-cell time)")
    print("\n".join(slow_cells(comparisons)) or "  (none)")

    suite_run = None
    if not args.no_suite:
        print("\n== (c) make test", flush=True)
        suite_run = suite()
        state = "passed" if suite_run.passed else f"FAILED, see {suite_run.log.relative_to(ROOT)}"
        print(f"  make test {suite_run.seconds:.1f}s ({state}); sum of floors "
              f"{suite_run.notebooks} x {floor_seconds:.1f}s = {suite_run.notebooks * floor_seconds:.1f}s "
              f"(goal suite/floor <= {SUITE_GOAL})")

    print()
    for line in last_lines(drained, comparisons, suite_run, floor_seconds, deep):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
