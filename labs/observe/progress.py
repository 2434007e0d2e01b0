"""A progress bar for a cell that takes more than a couple of seconds.

tqdm writes to stderr by default, and JupyterLab draws stderr in a pink box, the colour of an
error. Progress is not an error, so the bar goes to stdout.
"""
from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(total: int, description: str, unit: str = "件") -> tqdm:
    """``with progress_bar(n, "送信と処理") as bar: ... bar.update(k)``: a bar drawn on stdout."""
    return tqdm(total=total, desc=description, unit=unit, file=sys.stdout, mininterval=0.5)
