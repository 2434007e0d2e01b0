"""The instructor's gradebook: every learner notebook in a folder, run headless, every verdict collected.

``python -m labs.workbook grade DIR`` (or ``make grade DIR=...``). DIR holds one folder per
learner (``DIR/alice/01_eventbridge.ipynb``; any depth below it), or the notebooks of one
learner directly. Each notebook runs on a copy, in a kernel of its own (a fresh in-process
sandbox, started before the first cell; no shared server, no real AWS), with a time limit
for the whole notebook. Like nbgrader's autograde, a cell that raises does not stop the
notebook: later check cells still give their verdicts. Every check cell writes its verdict
to ``$LABS_CHECK_REPORT`` (see ``labs.workbook.checks``); the gradebook reads that file.

For each learner × exercise: 合格 (passed), 不合格 (failed, with the check's reason),
未実装 (not implemented) or 未実行 (the check never ran: the notebook timed out, raised,
lost its check cell, ... and why). Written to ``OUT`` (default ``build/gradebook``):

* ``results.csv``: one row per learner × exercise, with status and reason (long format);
* ``scores.csv``: one row per learner, one column per exercise (1 = passed), like nbgrader's
  ``grades.csv``, for a spreadsheet or an LMS;
* ``gradebook.json``: everything, for another grader;
* ``report.html``: the table, a per-exercise summary and a chart of the class's progress;
* ``executed/``: each learner's notebook as it ran, outputs included.

It reports what the kernel said: a learner who rewrites the check machinery itself can fake
a verdict. The gradebook shows progress in class; it is not an exam proctor.
"""
from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from labs.workbook.checks import load_all
from labs.workbook.display import STYLES
from labs.workbook.notebooks import shipped_notebooks

STATUSES = ("passed", "failed", "not_implemented", "not_run")
WORDS = {status: word for status, (_, word, _) in STYLES.items()} | {"not_run": "未実行"}
COLOURS = {status: colour for status, (_, _, colour) in STYLES.items()} | {"not_run": "#9a6700"}
RANK = {status: rank for rank, status in enumerate(reversed(STATUSES))}  # passed is best
LESSON = re.compile(r"^(\d\d)_")
# What the kernel must not inherit: each learner gets the in-process sandbox, never a shared
# server or real AWS, and never the grader's own report file.
DROPPED_ENV = ("LABS_ENDPOINT_URL", "LABS_REAL_AWS", "LABS_CHECK_REPORT", "LABS_SANDBOX", "LABS_SANDBOX_URL",
               "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
               "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
SETUP_TIMEOUT = 120  # seconds for the kernel's own start and the sandbox's, outside the learner's limit
SETUP_CODE = "from labs import sandbox as _labs_sandbox\n_labs_sandbox.start()\ndel _labs_sandbox"


@dataclass
class Run:
    """What happened to one notebook."""

    learner: str
    notebook: str  # path relative to DIR
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # Japanese, one line each
    first_problem_cell: int | None = None
    verdicts: dict[str, dict] = field(default_factory=dict)  # exercise -> {"status", "reason"}


@dataclass
class Grade:
    learner: str
    exercise: str
    title: str
    notebook: str
    status: str  # one of STATUSES
    reason: str = ""


# --- finding the notebooks ------------------------------------------------------------------------

def find_notebooks(folder: Path) -> list[tuple[str, Path]]:
    """(learner, path) for every lesson notebook under ``folder`` (checkpoints skipped)."""
    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        relative = path.relative_to(folder)
        if ".ipynb_checkpoints" in relative.parts or not LESSON.match(path.name):
            continue
        learner = relative.parts[0] if len(relative.parts) > 1 else folder.resolve().name
        found.append((learner, path))
    return found


def check_lines() -> dict[str, str]:
    """exercise -> the line of the shipped notebook that runs its check (``check("01.x", ...)``),
    in the order the course meets them."""
    lines = {}
    for path in sorted(shipped_notebooks().glob("*.ipynb")):
        for line in code_lines(path) or ():
            match = re.search(r"""(?:check|answer)\(\s*["'](\d\d\.\w+)["']""", line)
            if match:
                lines[match.group(1)] = line
    return lines


# --- running one notebook (in a child process: a hang or a crash stays there) ----------------------

def run_one(notebook: Path, executed: Path, time_limit: float) -> dict:
    """Execute ``notebook`` in a fresh kernel (cwd: its folder), cell by cell, within
    ``time_limit`` seconds in all. Saves the executed copy; returns what went wrong."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    outcome = {"problems": [], "first_problem_cell": None}

    def problem(cell, text):
        outcome["problems"].append(text)
        if outcome["first_problem_cell"] is None:
            outcome["first_problem_cell"] = cell

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as error:  # not JSON, not a notebook: nothing runs
        problem(-1, f"ノートブックとして読めません: {type(error).__name__}: {str(error)[:200]}")
        return outcome
    client = NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=time_limit,
                            resources={"metadata": {"path": str(notebook.parent)}})
    # The sandbox is started before the learner's first cell (a learner may have deleted theirs);
    # the setup cell is taken out again before the executed copy is saved.
    nb.cells.insert(0, nbformat.v4.new_code_cell(SETUP_CODE))
    try:
        with client.setup_kernel(env=kernel_env()):
            client.timeout = SETUP_TIMEOUT
            client.execute_cell(nb.cells[0], 0)
            if any(o.get("output_type") == "error" for o in nb.cells[0].outputs):
                problem(-1, f"サンドボックスを起動できません: {error_text(nb.cells[0].outputs)}")
                return outcome
            deadline = time.monotonic() + time_limit  # the limit is for the learner's cells
            for position, cell in enumerate(nb.cells[1:], 1):
                index = position - 1  # as the learner numbers the cells (from 0)
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                if time.monotonic() >= deadline:
                    problem(index, f"時間切れ: {time_limit:.0f} 秒以内に終わりませんでした (セル {index} の前)")
                    break
                client.timeout = max(1, int(deadline - time.monotonic()))
                try:
                    client.execute_cell(cell, position)
                except CellTimeoutError:
                    problem(index, f"時間切れ: セル {index} が {time_limit:.0f} 秒の制限内に終わりません (無限ループ?)")
                    break
                except DeadKernelError:
                    problem(index, f"セル {index} でカーネルが停止しました (メモリ不足やプロセスの終了)")
                    break
                if any(o.get("output_type") == "error" for o in cell.outputs):
                    problem(index, f"セル {index}: {error_text(cell.outputs)}")
    finally:
        nb.cells.pop(0)
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed)
    return outcome


def error_text(outputs) -> str:
    error = next(o for o in outputs if o.get("output_type") == "error")
    hint = {"ModuleNotFoundError": " (このコースにないモジュールを import しています)",
            "KeyError": " (チェックの演習名が変わっていませんか?)" if "登録されていません" in error.get("evalue", "") else ""}
    return f"{error.get('ename')}: {error.get('evalue', '')[:200]}{hint.get(error.get('ename'), '')}"


def kernel_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env["LABS_CHECK_REPORT"] = os.environ["LABS_CHECK_REPORT"]  # set by the parent for this notebook only
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _child_main(argv: list[str]) -> int:
    notebook, executed, result, limit = argv
    outcome = run_one(Path(notebook), Path(executed), float(limit))
    Path(result).write_text(json.dumps(outcome, ensure_ascii=False), encoding="utf-8")
    return 0


# --- the class -----------------------------------------------------------------------------------

def grade_notebook(learner: str, path: Path, folder: Path, out: Path, scratch: Path, time_limit: float) -> Run:
    """One notebook: copied into ``scratch``, run by a child process, verdicts read back."""
    relative = path.relative_to(folder)
    run = Run(learner, str(relative))
    work = scratch / relative.parent
    work.mkdir(parents=True, exist_ok=True)
    copy = work / path.name
    shutil.copyfile(path, copy)
    report, result = work / f"{path.stem}.checks.jsonl", work / f"{path.stem}.result.json"
    env = dict(os.environ, LABS_CHECK_REPORT=str(report), PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), *filter(None, [os.environ.get("PYTHONPATH")])]))  # this labs
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "labs.workbook.gradebook", str(copy),
                              str(out / "executed" / relative), str(result), str(time_limit)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=work,
                             start_new_session=True)
    try:
        log, _ = child.communicate(timeout=time_limit + SETUP_TIMEOUT + 60)  # the child enforces the limit; this is the backstop
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)  # the child's own session: its kernel goes with it
        log, _ = child.communicate()
        run.problems.append(f"時間切れ: {time_limit:.0f} 秒を大きく超えたため停止しました")
    run.seconds = time.monotonic() - started
    if result.exists():
        outcome = json.loads(result.read_text(encoding="utf-8"))
        run.problems += outcome["problems"]
        run.first_problem_cell = outcome["first_problem_cell"]
    elif not run.problems:
        tail = log.decode("utf-8", "replace").strip().splitlines()[-1:] or ["(出力なし)"]
        run.problems.append(f"実行できませんでした (終了コード {child.returncode}): {tail[0][:200]}")
    if report.exists():
        for line in report.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            run.verdicts[row["exercise"]] = {"status": row["status"], "reason": row.get("reason", "")}
    return run


def grades_for(runs: list[Run], lessons: dict[str, list[str]], titles: dict[str, str],
               lines: dict[str, str], folder: Path) -> list[Grade]:
    """learner × exercise: the best verdict among the learner's copies of that lesson."""
    grades: dict[tuple[str, str], Grade] = {}
    for run in runs:
        lesson = LESSON.match(Path(run.notebook).name).group(1)
        code = code_lines(folder / run.notebook)
        for exercise in lessons.get(lesson, []):
            verdict = run.verdicts.get(exercise)
            if verdict:
                grade = Grade(run.learner, exercise, titles[exercise], run.notebook, verdict["status"], verdict["reason"])
            else:
                grade = Grade(run.learner, exercise, titles[exercise], run.notebook, "not_run",
                              why_not_run(run, lines.get(exercise), code))
            key = (run.learner, exercise)
            if key not in grades or RANK[grade.status] > RANK[grades[key].status]:
                grades[key] = grade
    return sorted(grades.values(), key=lambda g: (g.learner, g.exercise))


def code_lines(path: Path) -> list[str] | None:
    """Every stripped line of the notebook's code cells, in order (None when it is not a readable notebook)."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return [line.strip() for c in cells if c["cell_type"] == "code"
                for line in ("".join(c["source"]) if isinstance(c["source"], list) else c["source"]).splitlines()]
    except (ValueError, KeyError, TypeError):
        return None


def why_not_run(run: Run, line: str | None, code: list[str] | None) -> str:
    reasons = []
    if line and code is not None and line not in code:
        reasons.append(f"チェックの行 `{line}` が見当たりません (削除または変更されています)")
    reasons += run.problems[:2]
    return " / ".join(reasons) or "チェックのセルが実行されませんでした"


def grade_class(folder: Path, out: Path, time_limit: float = 300, jobs: int | None = None,
                progress=print) -> dict:
    """Grade every lesson notebook under ``folder``; write the reports into ``out``; return the data."""
    folder = folder.resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"フォルダーがありません: {folder}")
    registry = load_all()
    titles = {id: item.title for id, item in registry.items()}
    lessons: dict[str, list[str]] = {}
    for id in sorted(registry):
        lessons.setdefault(id.split(".")[0], []).append(id)
    notebooks = find_notebooks(folder)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    jobs = jobs or max(1, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="labs-grade-") as scratch, ThreadPoolExecutor(jobs) as pool:
        def one(item):
            learner, path = item
            run = grade_notebook(learner, path, folder, out, Path(scratch), time_limit)
            progress(f"{'ok ' if not run.problems else 'NG '} {run.notebook} ({run.seconds:.0f} 秒)"
                     + "".join(f"\n     {p}" for p in run.problems[:3]))
            return run
        runs = list(pool.map(one, notebooks))
    lines = check_lines()
    grades = grades_for(runs, lessons, titles, lines, folder)
    order = {exercise: position for position, exercise in enumerate(lines)}
    data = {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "folder": str(folder), "time_limit_seconds": time_limit,
        "statuses": {s: WORDS[s] for s in STATUSES},
        "exercises": [{"id": e, "title": titles[e]}
                      for e in sorted({g.exercise for g in grades}, key=lambda e: (order.get(e, len(order)), e))],
        "learners": sorted({r.learner for r in runs}),
        "notebooks": [asdict(r) for r in runs],
        "grades": [asdict(g) for g in grades],
    }
    write_reports(data, out)
    return data


# --- reports ---------------------------------------------------------------------------------------

def write_reports(data: dict, out: Path) -> None:
    grades = data["grades"]
    (out / "gradebook.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    with open(out / "results.csv", "w", newline="", encoding="utf-8-sig") as f:  # BOM: Excel reads UTF-8
        writer = csv.DictWriter(f, fieldnames=["learner", "exercise", "title", "notebook", "status", "reason"])
        writer.writeheader()
        writer.writerows(grades)
    exercises = [e["id"] for e in data["exercises"]]
    with open(out / "scores.csv", "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(["learner", "score", "max_score", *exercises])
        for learner in data["learners"]:
            mine = {g["exercise"]: g["status"] for g in grades if g["learner"] == learner}
            points = [int(mine.get(e) == "passed") for e in exercises]
            writer.writerow([learner, sum(points), len(exercises), *points])
    (out / "report.html").write_text(render_html(data), encoding="utf-8")


def summary(data: dict) -> dict[str, dict[str, int]]:
    """exercise -> status -> how many learners."""
    counts = {e["id"]: dict.fromkeys(STATUSES, 0) for e in data["exercises"]}
    for g in data["grades"]:
        counts[g["exercise"]][g["status"]] += 1
    return counts


def badge(status: str) -> str:
    return (f"<span class='badge' data-status='{status}' style='background-color:{COLOURS[status]}'>"
            f"{WORDS[status]}</span>")


def chart(data: dict) -> str:
    """Stacked bars, one per exercise: how much of the class is where (inline SVG)."""
    counts, rows = summary(data), data["exercises"]
    label_width, bar_width, height = 330, 420, 22
    svg = [f"<svg role='img' aria-label='演習ごとの進み具合' width='{label_width + bar_width + 60}' "
           f"height='{height * len(rows) + 40}' xmlns='http://www.w3.org/2000/svg'>"]
    for i, row in enumerate(rows):
        y, x = 8 + i * height, label_width
        total = sum(counts[row["id"]].values()) or 1
        svg.append(f"<text x='{label_width - 6}' y='{y + 14}' text-anchor='end' font-size='12'>"
                   f"{html.escape(row['id'])} {html.escape(row['title'][:22])}</text>")
        for status in STATUSES:
            n = counts[row["id"]][status]
            if n:
                w = bar_width * n / total
                svg.append(f"<rect x='{x:.1f}' y='{y}' width='{w:.1f}' height='{height - 6}' fill='{COLOURS[status]}'>"
                           f"<title>{WORDS[status]}: {n}</title></rect>")
                x += w
        svg.append(f"<text x='{label_width + bar_width + 6}' y='{y + 14}' font-size='12'>"
                   f"{counts[row['id']]['passed']}/{total}</text>")
    legend_y = 8 + len(rows) * height + 16
    for i, status in enumerate(STATUSES):
        svg.append(f"<rect x='{label_width + i * 90}' y='{legend_y - 10}' width='12' height='12' fill='{COLOURS[status]}'/>"
                   f"<text x='{label_width + i * 90 + 16}' y='{legend_y}' font-size='12'>{WORDS[status]}</text>")
    return "".join(svg + ["</svg>"])


CSS = """body{font-family:sans-serif;margin:1.5em;color:#1f2328}table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top;font-size:13px}th{background:#f6f8fa}
.badge{display:inline-block;min-width:3.5em;text-align:center;padding:1px 6px;border-radius:4px;color:#fff;font-weight:bold}
.reason{color:#57606a;font-size:12px;max-width:28em;white-space:pre-wrap}"""


def render_html(data: dict) -> str:
    e = html.escape
    exercises, counts = data["exercises"], summary(data)
    by_cell = {(g["learner"], g["exercise"]): g for g in data["grades"]}
    head = "".join(f"<th title='{e(x['title'])}'>{e(x['id'])}</th>" for x in exercises)
    body = []
    for learner in data["learners"]:
        cells = []
        for x in exercises:
            g = by_cell.get((learner, x["id"]))
            cells.append("<td>—</td>" if g is None else
                         f"<td>{badge(g['status'])}<div class='reason'>{e(g['reason'])}</div></td>")
        passed = sum(1 for x in exercises if by_cell.get((learner, x["id"]), {}).get("status") == "passed")
        body.append(f"<tr><th>{e(learner)}</th><td>{passed}/{len(exercises)}</td>{''.join(cells)}</tr>")
    per_exercise = "".join(
        f"<tr><th>{e(x['id'])}</th><td>{e(x['title'])}</td>"
        + "".join(f"<td>{counts[x['id']][s]}</td>" for s in STATUSES) + "</tr>" for x in exercises)
    problems = "".join(
        f"<tr><td>{e(r['learner'])}</td><td>{e(r['notebook'])}</td><td>{r['seconds']:.0f}</td>"
        f"<td class='reason'>{e(chr(10).join(r['problems']))}</td></tr>" for r in data["notebooks"] if r["problems"])
    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>成績表</title><style>{CSS}</style></head><body>
<h1>成績表</h1>
<p>{e(data['folder'])} / {len(data['learners'])} 人 / ノートブック {len(data['notebooks'])} 冊 /
制限時間 {data['time_limit_seconds']:.0f} 秒 / {e(data['generated'])}</p>
<h2>クラスの進み具合</h2>
{chart(data)}
<h2>演習ごとのまとめ</h2>
<table id="summary"><tr><th>演習</th><th>内容</th>{''.join(f'<th>{badge(s)}</th>' for s in STATUSES)}</tr>{per_exercise}</table>
<h2>受講者 × 演習</h2>
<table id="grades"><tr><th>受講者</th><th>合格</th>{head}</tr>{''.join(body)}</table>
<h2>途中で止まったノートブック</h2>
{f'<table id="problems"><tr><th>受講者</th><th>ノートブック</th><th>秒</th><th>何が起きたか</th></tr>{problems}</table>'
 if problems else '<p>ありません。</p>'}
</body></html>
"""


if __name__ == "__main__":  # the child process of grade_notebook
    sys.exit(_child_main(sys.argv[1:]))
