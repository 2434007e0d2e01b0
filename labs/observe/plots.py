"""Plots with Japanese labels that render on any laptop (no tofu boxes).

Each function draws on ``ax`` when given one (and returns it); otherwise it makes its own
figure, shows it, and returns nothing, so a notebook cell's output is just the picture.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib_fontja  # noqa: F401  (bundles IPAex Gothic and makes it the default font)

# (colour, Japanese label) per outcome and (marker, Japanese label) per kind of record.
OUTCOMES = {"ok": ("tab:green", "成功"), "error": ("tab:red", "失敗"), "partial": ("tab:orange", "一部失敗"),
            "retry": ("tab:orange", "再試行"), "dlq": ("black", "DLQ へ"), "ignored": ("tab:gray", "無視")}
KINDS = {"publish": ("s", "発行"), "deliver": (">", "配信"), "invoke": ("o", "呼び出し"), "dlq": ("X", "DLQ 移動"),
         "redrive": ("P", "再投入"), "schedule": ("*", "スケジュール"), "note": ("d", "メモ"),
         "filter": ("v", "フィルターで除外")}


def timeline(records, title: str = "メッセージの流れ", ax=None):
    """Lanes of targets (y) over the runtime clock (x); shape = kind, colour = outcome."""
    lane_of = [_lane(r) for r in records]
    lanes = list(dict.fromkeys(lane_of))  # in order of first appearance
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(9, 0.5 * len(lanes) + 1.6))
    for r, lane in zip(records, lane_of):
        ax.scatter(r.t, lanes.index(lane), marker=KINDS.get(r.kind, ("o",))[0],
                   color=OUTCOMES.get(r.outcome, ("tab:blue",))[0], s=60, zorder=3)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.invert_yaxis()
    end = max((r.t for r in records), default=1.0)
    ax.set_xlim(0, end * 1.05 or 1.0)  # from time zero (the last recorder.clear()), last dot inside
    ax.set_xlabel("時刻 (秒, ランタイムの時計)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    # A legend of what this plot shows, nothing more.
    kinds = dict.fromkeys(r.kind for r in records if r.kind in KINDS)
    outcomes = dict.fromkeys(r.outcome for r in records if r.outcome in OUTCOMES)
    handles = [plt.Line2D([], [], marker=KINDS[k][0], linestyle="", color="gray", label=KINDS[k][1]) for k in kinds]
    handles += [plt.Line2D([], [], marker="o", linestyle="", color=OUTCOMES[o][0], label=OUTCOMES[o][1]) for o in outcomes]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return finish(ax, own)


def _lane(record) -> str:
    """Publishes and schedule firings get a lane of their own, beside the handlers they reach."""
    if record.kind == "publish":
        return f"{record.target} (発行)"
    if record.kind == "schedule":
        return f"{record.source} (スケジュール)"
    return record.target


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
