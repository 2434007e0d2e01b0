"""Tables that render as HTML in JupyterLab and as aligned text elsewhere."""
from __future__ import annotations

import html


class Table:
    """A small table that renders as HTML in JupyterLab and as aligned text elsewhere."""

    def __init__(self, columns: list[str], rows: list[list]) -> None:
        self.columns = columns
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in self.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        cells = [self.columns] + [[str(v) for v in row] for row in self.rows]
        widths = [max(_width(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [" | ".join(_pad(v, w) for v, w in zip(row, widths)).rstrip() for row in cells]
        lines.insert(1, "-+-".join("-" * w for w in widths))
        return "\n".join(lines)


def _width(text: str) -> int:
    # East Asian characters take two columns in a terminal.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(text))


def _pad(text: str, width: int) -> str:
    return str(text) + " " * (width - _width(text))


def table(rows: list[dict], columns: list[str] | None = None) -> Table:
    """A Table from a list of dicts (columns default to the keys of the first row)."""
    columns = columns or (list(rows[0]) if rows else [])
    return Table(columns, [[row.get(c, "") for c in columns] for row in rows])
