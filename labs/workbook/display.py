"""How the workbook shows things in a notebook: verdict badges and the course's own logs.

* A verdict is a coloured badge with its word (合格 / 不合格 / 未実装), drawn in HTML, so it
  reads in any browser: the emoji ✅ ❌ ⏳ need a colour-emoji font that many machines lack
  (they become empty boxes). Outside a notebook the plain text, with the emoji, is printed.
* A log line the course code writes on purpose (a consumer warning about an unknown event
  type) is not an error. Python prints such a line, when nothing is configured, through its
  "last resort" handler to stderr, which JupyterLab paints red. ``show_logs_calmly`` swaps
  that handler for one that writes the same lines to stdout, marked as a log. Nothing else
  changes: loggers with handlers of their own, levels and propagation stay as they were.
"""
from __future__ import annotations

import html
import logging
import re
import sys
from dataclasses import dataclass

# status -> (emoji for plain text, word, badge colour)
STYLES = {
    "passed": ("✅", "合格", "#1a7f37"),
    "failed": ("❌", "不合格", "#cf222e"),
    "not_implemented": ("⏳", "未実装", "#6e7781"),
}
BADGE = ("display:inline-block;min-width:4em;text-align:center;padding:1px 8px;margin-right:6px;"
         "border-radius:4px;color:#fff;font-weight:bold;background-color:{colour}")


@dataclass(frozen=True)
class Verdict:
    """What a check cell shows: ``status`` (a key of STYLES), the exercise's title, detail lines."""

    status: str
    title: str
    lines: tuple[str, ...] = ()
    word: str = ""  # instead of STYLES' word (the quiz says 正解 / 不正解 / 未回答)

    def __str__(self) -> str:
        emoji, word, _ = STYLES[self.status]
        return "\n".join([f"{emoji} {self.word or word}: {self.title}", *(f"   {line}" for line in self.lines)])

    __repr__ = __str__  # IPython's text/plain

    def _repr_html_(self) -> str:
        _, word, colour = STYLES[self.status]
        word = self.word or word
        details = "".join(f"<div style='{DETAIL}'>{whole_ids(line)}</div>" for line in self.lines)
        return (f"<div class='labs-verdict' data-verdict='{self.status}'>"
                f"<span class='labs-verdict-badge' style='{BADGE.format(colour=colour)}'>{word}</span>"
                f"<span>{whole_ids(self.title)}</span>{details}</div>")


# An id, a name or an ARN (ORD-001, 3811b8ec-84ba-…, order-created, arn:aws:sqs:…:orders-dlq): the
# browser may break a line after any "-", so such a word is kept on one line. A word longer than
# a line may still break anywhere rather than run past the cell.
ID = re.compile(r"[A-Za-z0-9][\w.:/@+=-]*[-.:/_][\w.:/@+=-]*[A-Za-z0-9]", re.ASCII)
LONGEST_WHOLE = 60  # characters: longer than this, the word may break
DETAIL = "margin-left:1em;white-space:pre-wrap;overflow-wrap:anywhere"


def whole_ids(text: str) -> str:
    """``text`` as HTML, every id-like word in a span that never breaks across lines."""
    parts, end = [], 0
    for found in ID.finditer(text):
        if len(found.group()) <= LONGEST_WHOLE:
            parts += [html.escape(text[end:found.start()]),
                      f"<span class='labs-id' style='white-space:nowrap'>{html.escape(found.group())}</span>"]
            end = found.end()
    return "".join(parts) + html.escape(text[end:])


@dataclass(frozen=True)
class Markdown:
    """Text written in markdown: rendered in a notebook (code in backticks, bold), plain elsewhere."""

    text: str

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        return self.text


def show(shown) -> None:
    """Display in a notebook (HTML, with the text as fallback); print elsewhere."""
    from IPython.display import display  # ipykernel's dependency; prints str() outside IPython

    display(shown)


class CalmLastResort(logging.Handler):
    """Python's last-resort handler, but warnings go to the notebook's stdout, marked as logs."""

    def __init__(self, loud: logging.Handler | None) -> None:
        super().__init__(logging.WARNING)  # the level the last resort shows
        self.setFormatter(logging.Formatter("ログ [%(levelname)s] %(name)s: %(message)s"))
        self.loud = loud  # Python's own last resort (stderr), kept for errors

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            if self.loud is not None:
                self.loud.handle(record)
            return
        try:
            print(self.format(record), file=sys.stdout)  # the kernel replaces sys.stdout per cell
        except Exception:
            self.handleError(record)


def show_logs_calmly() -> None:
    """Unconfigured log lines below ERROR go to stdout; errors keep stderr (red, as they should)."""
    if not isinstance(logging.lastResort, CalmLastResort):
        logging.lastResort = CalmLastResort(logging.lastResort)
