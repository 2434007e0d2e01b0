"""Each exercise's two answers agree: the solution notebook's (between the solution markers) and
the check module's reference (``labs/workbook/exercises/lessonNN.py``).

Both are proven to pass their check elsewhere; this proves they behave the same on the check's own
cases, so one cannot drift from the other unnoticed (an instructor changes a threshold in the
notebook, the check still passes, and the notebook now teaches something the reference does not).

No kernel: the notebook's answer is loaded from its source, with only what it needs from the
cells above (imports and the definitions it names), and both answers go through the check in
this process. Each run is traced: every call into the answer (its arguments, what it returned
or raised, and the same for any function it returned or was handed), every AWS call made while
the check ran, and the verdict. The traces, with run-to-run values (ids, ARNs, times) replaced as
nbval's sanitizer does (tests/sanitize.cfg), must be equal.
"""
import ast
import builtins
import configparser
import datetime
import decimal
import json
import itertools
import re
import threading
import uuid
from pathlib import Path

import nbformat
import pytest

from labs import sandbox
from labs.sandbox import calls
from labs.workbook.checks import evaluate, load_all
from labs.workbook.notebooks import BEGIN
from labs.workbook.scratch import scratch

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
ANSWERED = re.compile(r"""(?:^\w+ = check|quiz\.answer)\(["']([\w.]+)["'], (\w+)\)""", re.M)


# --- the notebook's answer, as code ----------------------------------------------------------

def _statements(source: str) -> list[ast.stmt]:
    return ast.parse("\n".join("" if line.startswith(("%", "!")) else line for line in source.splitlines())).body


def _bound_names(statement: ast.stmt) -> list[str]:
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return [(alias.asname or alias.name).split(".")[0] for alias in statement.names]
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [statement.name]
    if isinstance(statement, (ast.Assign, ast.AnnAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return [node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)]
    return []


def _needed_names(statement: ast.stmt) -> set[str]:
    """Names the statement reads that it does not bind itself (a rough free-variable analysis:
    enough for the module-level names an answer uses)."""
    read, bound = set(), set(_bound_names(statement))
    for node in ast.walk(statement):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update(_bound_names(node))
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return read - bound - set(dir(builtins))


def _import_of(statement: ast.stmt, name: str) -> ast.stmt:
    """Only the part of an import statement that binds ``name``."""
    alias = next(a for a in statement.names if (a.asname or a.name).split(".")[0] == name)
    if isinstance(statement, ast.ImportFrom):
        return ast.ImportFrom(module=statement.module, names=[alias], level=statement.level)
    return ast.Import(names=[alias])


def answer_source(code_cells: list[str], function: str) -> str:
    """The notebook's definition of ``function`` (the last one with solution markers), preceded by
    the statements of the cells up to it that bind the names it needs, transitively, in order."""
    statements, definition = [], None
    for source in code_cells:
        for statement in _statements(source):
            if (isinstance(statement, ast.FunctionDef) and statement.name == function
                    and BEGIN in (ast.get_source_segment(source, statement) or "")):
                definition = (len(statements), statement)
            statements.append(statement)
    if definition is None:
        raise AssertionError(f"{function}: no definition with {BEGIN} in the notebook")
    position, target = definition
    chosen: dict[tuple[int, str], ast.stmt] = {}  # (position, name) -> the statement that binds it
    wanted = sorted(_needed_names(target))
    while wanted:
        name = wanted.pop()
        where = next((i for i in range(position - 1, -1, -1) if name in _bound_names(statements[i])), None)
        if where is None:
            raise AssertionError(f"{function} uses {name!r}, which no earlier statement of the notebook binds")
        statement = statements[where]
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            chosen[(where, name)] = _import_of(statement, name)
        elif (where, "") not in chosen:
            chosen[(where, "")] = statement
            wanted += sorted(_needed_names(statement))
    ordered = [chosen[key] for key in sorted(chosen)]
    return ast.unparse(ast.Module(body=[*ordered, target], type_ignores=[]))


def notebook_answers() -> list[tuple[str, str, str]]:
    """(exercise id, the answer's function name, its source) for every answer in solutions/."""
    found = []
    for path in SOLUTIONS:
        cells = [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
        for index, source in enumerate(cells):
            for exercise_id, function in ANSWERED.findall(source):
                found.append((exercise_id, function, answer_source(cells[:index + 1], function)))
    return found


def load_answer(exercise_id: str, function: str, source: str):
    namespace = {"__name__": f"notebook_answer_{exercise_id.replace('.', '_')}"}
    exec(compile(source, f"<{exercise_id}: the notebook's answer>", "exec"), namespace)
    return namespace[function]


# --- what an answer does under its check -------------------------------------------------------

def _sanitizers(path: Path = ROOT / "tests" / "sanitize.cfg") -> list[tuple[re.Pattern, str]]:
    config = configparser.ConfigParser()
    config.read(path, encoding="utf-8")
    return [(re.compile(config[name]["regex"]), config[name]["replace"]) for name in config.sections()]


SANITIZERS = _sanitizers() + [(re.compile(r"\b1[5-9]\d{8}(\.\d+)?\b"), "EPOCH")]  # stream records' epoch seconds
UNCOMPARED_KEYS = {"ResponseMetadata",  # request ids and dates of a boto3 reply
                   "title", "description"}  # a Pydantic model's documentation, not its constraints


def _without_uncompared(value):
    if isinstance(value, dict):
        return {k: _without_uncompared(v) for k, v in value.items() if k not in UNCOMPARED_KEYS}
    if isinstance(value, (list, tuple)):
        return [_without_uncompared(v) for v in value]
    return value


def plain(value) -> str:
    """``value`` as comparable text: JSON where it can be, run-to-run values replaced."""
    def fallback(thing):
        if isinstance(thing, type):
            schema = getattr(thing, "model_json_schema", None)  # a Pydantic model: its constraints
            return {"class": thing.__name__, "schema": _without_uncompared(schema())} if schema else f"class {thing.__name__}"
        if hasattr(thing, "model_dump"):
            return thing.model_dump(mode="json")
        if isinstance(thing, (datetime.date, datetime.time)):
            return thing.isoformat()
        if isinstance(thing, (decimal.Decimal, bytes, bytearray)):
            return str(thing)
        if isinstance(thing, (set, frozenset)):
            return sorted(map(str, thing))
        return f"<{type(thing).__name__}>"  # an object: its type only (no address)

    text = json.dumps(_without_uncompared(value), default=fallback, ensure_ascii=False, sort_keys=True)
    for pattern, replacement in SANITIZERS:
        text = pattern.sub(replacement, text)
    return text


READS = ("Get", "List", "Describe", "Receive", "Scan", "Query", "BatchGet")  # AWS calls that change nothing
_inside = threading.local()  # how deep this thread is in calls to the answer (AWS calls count only there)


class Traced:
    """A function that notes each call, its outcome, and what it hands back or is handed."""

    def __init__(self, function, label: str, trace: list[str]):
        self.__wrapped__, self.label, self.trace = function, label, trace
        self.__name__ = getattr(function, "__name__", label)
        self.__doc__ = getattr(function, "__doc__", None)
        self.__globals__ = getattr(function, "__globals__", {})  # checks look into the answer's module

    def __call__(self, *args, **kwargs):
        args = [traced(a, f"{self.label} の引数 {i}", self.trace) for i, a in enumerate(args)]
        kwargs = {k: traced(v, f"{self.label} の引数 {k}", self.trace) for k, v in kwargs.items()}
        self.trace.append(f"{self.label}({plain([args, kwargs])[1:-1]})")
        _inside.depth = getattr(_inside, "depth", 0) + 1
        try:
            result = self.__wrapped__(*args, **kwargs)
        except BaseException as error:
            self.trace.append(f"{self.label} raised {type(error).__name__}")  # the wording is each answer's own
            raise
        finally:
            _inside.depth -= 1
        self.trace.append(f"{self.label} returned {plain(result)}")
        return traced(result, f"{self.label}() の戻り値", self.trace)


def traced(value, label: str, trace: list[str]):
    plain_function = callable(value) and not isinstance(value, (type, Traced)) and hasattr(value, "__code__")
    return Traced(value, label, trace) if plain_function else value


def run_traced(exercise_id: str, answer) -> list[str]:
    """The check run on ``answer`` in an empty sandbox: every step of the trace, the verdict last.
    AWS calls that change something count while the answer runs."""
    sandbox.reset()  # both answers start from the same state, with the same run ids (below)
    trace: list[str] = []

    def heard(service, operation, params, response):
        if getattr(_inside, "depth", 0) and not operation.startswith(READS):
            trace.append(f"AWS {service}.{operation} {plain(params)}")

    ids = itertools.count(1)
    random_uuid, uuid.uuid4 = uuid.uuid4, lambda: uuid.UUID(int=next(ids))  # the check's run ids: the same each run
    calls.listen("solutions-agree", heard)
    try:
        with scratch():
            outcome = evaluate(exercise_id, Traced(answer, exercise_id, trace))
    finally:
        calls.forget("solutions-agree")
        uuid.uuid4 = random_uuid
    return trace + [f"verdict: {outcome.status} {outcome.reason}".rstrip()]


def first_disagreement(reference: list[str], notebook: list[str]) -> str | None:
    for step, (ours, theirs) in enumerate(zip(reference, notebook), 1):
        if ours != theirs:
            return f"step {step}:\n  reference: {ours}\n  notebook:  {theirs}"
    if len(reference) != len(notebook):
        longer, name = (reference, "reference") if len(reference) > len(notebook) else (notebook, "notebook")
        return f"step {min(len(reference), len(notebook)) + 1}: only the {name} goes on: {longer[min(len(reference), len(notebook))]}"
    return None


ANSWERS = notebook_answers()

# Known to disagree, to be fixed in the notebook or the reference (strict: the test says when one
# is fixed, and the entry must then go).
KNOWN: dict[str, str] = {}


class Disagreement(AssertionError):
    pass


def _case(answer):
    if answer[0] in KNOWN:
        mark = pytest.mark.xfail(strict=True, raises=Disagreement, reason=KNOWN[answer[0]])
        return pytest.param(*answer, id=answer[0], marks=mark)
    return pytest.param(*answer, id=answer[0])


def test_every_exercise_has_one_answer_in_the_notebooks():
    ids = [exercise_id for exercise_id, _, _ in ANSWERS]
    assert sorted(set(ids)) == sorted(load_all()), "an exercise without a notebook answer, or a stray check cell"
    assert len(ids) == len(set(ids)), "an exercise answered twice in the notebooks"


def disagreement(exercise_id: str, function: str, source: str) -> str | None:
    """Why the notebook's answer and the reference differ under the check, or None."""
    reference = run_traced(exercise_id, load_all()[exercise_id].reference)
    assert reference[-1] == "verdict: passed", f"{exercise_id}: the reference fails its check: {reference[-1]}"
    found = first_disagreement(reference, run_traced(exercise_id, load_answer(exercise_id, function, source)))
    return found and (f"{exercise_id}: the notebook's answer ({function}) and the reference in "
                      f"labs/workbook/exercises/lesson{exercise_id[:2]}.py disagree at {found}")


@pytest.mark.parametrize("exercise_id,function,source", [_case(answer) for answer in ANSWERS])
def test_the_notebooks_answer_behaves_as_the_reference(exercise_id, function, source):
    found = disagreement(exercise_id, function, source)  # the reference passing its check is asserted there
    if found:
        raise Disagreement(found)


def _answer(exercise_id):
    return next(answer for answer in ANSWERS if answer[0] == exercise_id)


def test_a_threshold_changed_in_a_copy_of_the_notebook_is_caught():
    exercise_id, function, source = _answer("02.large_order_policy")
    assert "10000" in source
    found = disagreement(exercise_id, function, source.replace("10000", "12000"))
    assert found.startswith("02.large_order_policy: the notebook's answer (large_order_policy) and the reference")
    assert '"numeric": [">=", 10000]' in found and '"numeric": [">=", 12000]' in found


def test_a_change_the_check_lets_pass_is_caught_too():
    # A required event_id instead of one made when missing: every case of the check still passes.
    exercise_id, function, source = _answer("04.order_models")
    drifted = source.replace("event_id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1)",
                             "event_id: str = Field(min_length=1)")
    assert drifted != source
    assert run_traced(exercise_id, load_answer(exercise_id, function, drifted))[-1] == "verdict: passed"
    assert "disagree at step 2" in disagreement(exercise_id, function, drifted)


def test_an_answer_that_needs_a_name_the_notebook_never_binds_is_named():
    cells = ["import json", f"def answer():\n    {BEGIN}\n    return json.dumps(LIMIT)\n    ### END SOLUTION"]
    with pytest.raises(AssertionError, match="answer uses 'LIMIT', which no earlier statement"):
        answer_source(cells, "answer")
    assert answer_source(["import json, os", "LIMIT = os.sep", *cells[1:]], "answer").splitlines()[:3] == [
        "import json", "import os", "LIMIT = os.sep"]
