"""Tables that render as HTML in JupyterLab and as aligned text elsewhere."""
from __future__ import annotations

import html
import unicodedata

# A matrix of marks (✓ per rule and event) has many columns with long names over one-character
# cells: such a header is written sideways, so the table fits the cell instead of squeezing
# every other column (イベント one character per line) or hiding the last ones off the edge.
SIDEWAYS = "writing-mode:vertical-rl;white-space:nowrap;text-align:left;padding:0.4em 0.2em"
# Headers break only where a word ends (never inside イベント); cells keep JupyterLab's look.
HEADER = "word-break:keep-all"
MARK = " style='text-align:center'"  # a mark under a sideways header
NARROW_CELL = 2  # display columns: a mark, a digit or two
CELL_WIDTH = 100  # display columns of a notebook cell's output (about 850 px in JupyterLab)


class Table:
    """A small table that renders as HTML in JupyterLab and as aligned text elsewhere."""

    def __init__(self, columns: list[str], rows: list[list]) -> None:
        self.columns = columns
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def _repr_html_(self) -> str:
        sideways = [self._sideways(i) for i in range(len(self.columns))]
        head = "".join(f"<th style='{SIDEWAYS if turn else HEADER}'>{html.escape(str(c))}</th>"
                       for c, turn in zip(self.columns, sideways))
        body = "".join(
            "<tr>" + "".join(f"<td{MARK if turn else ''}>{html.escape(str(v))}</td>" for v, turn in zip(row, sideways))
            + "</tr>" for row in self.rows
        )
        return f"<table class='labs-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def _sideways(self, index: int) -> bool:
        """In a table too wide for a cell, a long header over cells one or two characters wide."""
        return (self._text_width() > CELL_WIDTH and _width(self.columns[index]) > 2 * NARROW_CELL
                and all(_width(row[index]) <= NARROW_CELL for row in self.rows))

    def _text_width(self) -> int:
        """Columns of text in one line of the table, a little room around each value."""
        return sum(max(_width(v) for v in [name] + [row[i] for row in self.rows]) + 2
                   for i, name in enumerate(self.columns))

    def __repr__(self) -> str:
        cells = [self.columns] + [[str(v) for v in row] for row in self.rows]
        widths = [max(_width(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [" | ".join(_pad(v, w) for v, w in zip(row, widths)).rstrip() for row in cells]
        lines.insert(1, "-+-".join("-" * w for w in widths))
        return "\n".join(lines)


def _width(text) -> int:
    """Columns a terminal gives the text: wide and full-width characters (日本語, ＡＢ) take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def _pad(text: str, width: int) -> str:
    return str(text) + " " * (width - _width(text))


def table(rows: list[dict], columns: list[str] | None = None) -> Table:
    """A Table from a list of dicts (columns default to the keys of the first row)."""
    columns = columns or (list(rows[0]) if rows else [])
    return Table(columns, [[row.get(c, "") for c in columns] for row in rows])
