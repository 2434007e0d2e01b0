"""Plots with Japanese labels that render on any laptop (no tofu boxes).

Each function draws on ``ax`` when given one (and returns it); otherwise it makes its own
figure, shows it, and returns nothing, so a notebook cell's output is just the picture.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib_fontja  # noqa: F401  (bundles IPAex Gothic and makes it the default font)

OUTCOME_COLOURS = {"ok": "tab:green", "error": "tab:red", "partial": "tab:orange", "retry": "tab:orange",
                   "dlq": "black", "ignored": "tab:gray"}
KIND_MARKERS = {"publish": "s", "deliver": ">", "invoke": "o", "dlq": "X", "redrive": "P", "schedule": "*"}


def timeline(records, title: str = "メッセージの流れ", ax=None):
    """Lanes of targets (y) over the runtime clock (x); shape = kind, colour = outcome."""
    lanes: list[str] = []
    for r in records:
        lane = r.target if r.kind != "publish" else f"{r.target} (発行)"
        if lane not in lanes:
            lanes.append(lane)
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(9, 0.5 * len(lanes) + 1.6))
    for r in records:
        lane = r.target if r.kind != "publish" else f"{r.target} (発行)"
        ax.scatter(r.t, lanes.index(lane), marker=KIND_MARKERS.get(r.kind, "o"),
                   color=OUTCOME_COLOURS.get(r.outcome, "tab:blue"), s=60, zorder=3)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.invert_yaxis()
    ax.set_xlabel("時刻 (秒, ランタイムの時計)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    handles = [plt.Line2D([], [], marker=m, linestyle="", color="gray", label=k) for k, m in KIND_MARKERS.items()]
    handles += [plt.Line2D([], [], marker="o", linestyle="", color=c, label=o) for o, c in OUTCOME_COLOURS.items()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return finish(ax, own)


def bars(labels, values, title: str, xlabel: str = "", ylabel: str = "件数", ax=None):
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(max(4, 0.8 * len(labels) + 2), 3.2))
    ax.bar([str(x) for x in labels], values, color="tab:blue")
    for i, v in enumerate(values):
        ax.annotate(str(v), (i, v), ha="center", va="bottom")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return finish(ax, own)


def finish(ax, own: bool):
    """Show a figure this module made (returning None); hand back an axis the caller gave."""
    ax.figure.tight_layout()
    if not own:
        return ax
    plt.show()
    return None
