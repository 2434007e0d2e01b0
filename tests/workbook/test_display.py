import json
import re
import subprocess
import sys
import textwrap

from labs.workbook import check
from labs.workbook.checks import REGISTRY, exercise, expect
from labs.workbook.display import STYLES, Verdict

EMOJI = re.compile("[\u2705\u274c\u23f3]")


def test_a_verdict_badge_says_its_word_without_emoji_and_escapes_the_reason():
    verdict = Verdict("failed", "注文を発行する", ("理由: <b>amount</b> がありません",))
    page = verdict._repr_html_()
    assert "data-verdict='failed'" in page and ">不合格</span>" in page
    assert not EMOJI.search(page), "the badge must read without a colour-emoji font"
    assert "&lt;b&gt;amount&lt;/b&gt;" in page and "<b>" not in page
    assert str(verdict) == "❌ 不合格: 注文を発行する\n   理由: <b>amount</b> がありません"


def test_ids_in_a_verdict_are_kept_on_one_line_and_japanese_around_them_still_wraps():
    line = "メッセージ 3811b8ec-84ba-4387-a315-9cc46647067f (注文ORD-001) が orders-dlq に移りました"
    page = Verdict("failed", "DLQ を確かめる", (line,))._repr_html_()
    whole = re.findall(r"<span class='labs-id' style='white-space:nowrap'>([^<]*)</span>", page)
    assert whole == ["3811b8ec-84ba-4387-a315-9cc46647067f", "ORD-001", "orders-dlq"]
    assert "overflow-wrap:anywhere" in page  # a word longer than the line breaks instead of running past the cell
    arn = "arn:aws:sqs:ap-northeast-1:123456789012:" + "a-very-long-queue-name" * 3
    assert "nowrap" not in Verdict("failed", "長い ARN", (arn,))._repr_html_()


def test_every_status_has_its_own_word_and_colour():
    words = {word for _, word, _ in STYLES.values()}
    colours = {colour for _, _, colour in STYLES.values()}
    assert words == {"合格", "不合格", "未実装"} and len(colours) == 3
    assert ">正解</span>" in Verdict("passed", "問 1", word="正解")._repr_html_()


def test_check_reports_reasons_in_its_jsonl(tmp_path, monkeypatch, capsys):
    report = tmp_path / "report.jsonl"
    monkeypatch.setenv("LABS_CHECK_REPORT", str(report))

    @exercise("test.display", "答えは 42", reference=lambda: 42)
    def _(candidate):
        expect(candidate() == 42, "42 を返してください")

    try:
        check("test.display", lambda: 41)
        check("test.display", lambda: 42)
    finally:
        del REGISTRY["test.display"]
    rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert rows == [{"exercise": "test.display", "status": "failed", "reason": "42 を返してください"},
                    {"exercise": "test.display", "status": "passed"}]
    assert "❌ 不合格: 答えは 42\n   理由: 42 を返してください" in capsys.readouterr().out


def run_python(code: str) -> subprocess.CompletedProcess:
    """A fresh interpreter: pytest's own log capture would hide Python's last resort."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          encoding="utf-8", timeout=60, check=True)


def test_unconfigured_warnings_print_calmly_to_stdout_and_errors_stay_on_stderr():
    done = run_python("""
        import logging
        import labs.workbook  # installs the calm last resort, as every notebook's setup cell does
        from labs.workbook.display import show_logs_calmly
        show_logs_calmly()  # idempotent: one wrapper, not a chain
        logger = logging.getLogger("order-service")
        logger.warning("Unknown event type: %s", "OrderReturned")
        logger.error("the handler broke")
        quiet = logging.getLogger("quiet-library")
        quiet.addHandler(logging.NullHandler())  # as labs.course.producers.validated does
        quiet.warning("rejected")
        print(type(logging.lastResort.loud).__name__)
    """)
    assert done.stdout == "ログ [WARNING] order-service: Unknown event type: OrderReturned\n_StderrHandler\n"
    assert done.stderr == "the handler broke\n"
