"""python -m labs.workbook generate [--check] | execute NB... | verify-checks SOLUTIONS NOTEBOOKS
| grade DIR [--out OUT] | copy-notebooks DEST"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from labs.workbook.checks import load_all
from labs.workbook.notebooks import copy_notebooks, execute, generate

ROOT = Path(__file__).resolve().parents[2]


def verify_checks(solutions_report: Path, notebooks_report: Path) -> list[str]:
    """Both directions: every solution passes its check; no learner stub does."""
    problems = []
    solutions = [json.loads(line) for line in solutions_report.read_text().splitlines()]
    notebooks = [json.loads(line) for line in notebooks_report.read_text().splitlines()]
    problems += [f"solution of {r['exercise']} did not pass ({r['status']})" for r in solutions if r["status"] != "passed"]
    problems += [f"learner stub of {r['exercise']} passed its check" for r in notebooks if r["status"] == "passed"]
    registered, seen = set(load_all()), {r["exercise"] for r in solutions}
    problems += [f"exercise {e} is registered but no solution notebook checks it" for e in sorted(registered - seen)]
    problems += [f"exercise {e} is checked in solutions but not in learner notebooks"
                 for e in sorted(seen - {r["exercise"] for r in notebooks})]
    return problems


def unpassed_checks(path: Path, verdicts: list[dict]) -> list[str]:
    """A solution must pass every check of its lesson (exercise ids start with the notebook's number)."""
    lesson = path.name.split("_")[0]
    expected = [id for id in load_all() if id.split(".")[0] == lesson]
    seen = {v["exercise"]: v for v in verdicts}
    problems = [f"FAIL {path}: {id} did not pass its check ({seen[id]['status']}"
                + (f": {seen[id]['reason']}" if seen[id].get("reason") else "") + ")"
                for id in expected if id in seen and seen[id]["status"] != "passed"]
    problems += [f"FAIL {path}: {id} was not checked (its check cell is missing)" for id in expected if id not in seen]
    return problems


def grade_command(args) -> int:
    from labs.workbook.gradebook import STATUSES, WORDS, grade_class

    if not args.folder.is_dir():
        print(f"フォルダーがありません: {args.folder}", file=sys.stderr)
        return 2
    data = grade_class(args.folder, args.out, time_limit=args.time_limit, jobs=args.jobs)
    counts = {s: sum(1 for g in data["grades"] if g["status"] == s) for s in STATUSES}
    print(f"{len(data['learners'])} 人, ノートブック {len(data['notebooks'])} 冊: "
          + ", ".join(f"{WORDS[s]} {n}" for s, n in counts.items()))
    print(f"成績表: {(args.out / 'report.html').resolve()}  (CSV: results.csv, scores.csv / JSON: gradebook.json)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labs.workbook")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="regenerate notebooks/ from solutions/")
    gen.add_argument("--check", action="store_true", help="only report; exit 1 when out of step")
    run = sub.add_parser("execute", help="execute solution notebooks in place")
    run.add_argument("paths", nargs="+", type=Path)
    ver = sub.add_parser("verify-checks", help="compare the check reports of solutions and notebooks")
    ver.add_argument("solutions", type=Path)
    ver.add_argument("notebooks", type=Path)
    grade = sub.add_parser("grade", help="run every learner notebook in DIR headless and report every verdict")
    grade.add_argument("folder", type=Path, metavar="DIR", help="one folder per learner, or one learner's notebooks")
    grade.add_argument("--out", type=Path, default=Path("build/gradebook"), help="where the reports go")
    grade.add_argument("--time-limit", type=float, default=300, help="seconds per notebook (default 300)")
    grade.add_argument("--jobs", type=int, default=None, help="notebooks run at once (default: CPU count)")
    copy = sub.add_parser("copy-notebooks", help="copy the learner notebooks into DEST (e.g. a learner's home)")
    copy.add_argument("destination", type=Path, metavar="DEST")
    copy.add_argument("--overwrite", action="store_true", help="replace notebooks already there")
    args = parser.parse_args(argv)

    if args.command == "grade":
        return grade_command(args)
    if args.command == "copy-notebooks":
        copied, kept = copy_notebooks(args.destination, overwrite=args.overwrite)
        print(f"{args.destination}: コピーしました {len(copied)} 冊"
              + (f" / そのまま残しました {len(kept)} 冊 (上書きするには --overwrite)" if kept else ""))
        return 0

    if args.command == "generate":
        stale = generate(ROOT / "solutions", ROOT / "notebooks", check=args.check)
        if args.check and stale:
            print("notebooks/ is out of step with solutions/; run `make notebooks`:", *stale, sep="\n  ")
            return 1
        print(f"{'stale' if args.check else 'regenerated'}: {len(stale)}")
        return 0
    if args.command == "execute":
        problems = []
        for path in args.paths:
            print(f"executing {path}", flush=True)
            problems += unpassed_checks(path, execute(path))
        print(*problems, sep="\n")
        return 1 if problems else 0
    problems = verify_checks(args.solutions, args.notebooks)
    print(*(problems or ["every solution passes its check; every learner stub does not"]), sep="\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
