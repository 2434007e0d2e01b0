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
    ax.set_ylim(len(lanes) - 0.5, -0.5)  # half a lane above the first and below the last: whole dots
    # From time zero (the last recorder.clear()), with room for a whole dot at either end.
    span = max((r.t for r in records), default=0.0) or 1.0
    ax.set_xlim(-0.03 * span, 1.05 * span)
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
    drawn = ax.bar([str(x) for x in labels], values, color="tab:blue")
    ax.bar_label(drawn, padding=2)
    ax.margins(y=0.15)  # headroom: the value above the tallest bar stays inside the frame
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return finish(ax, own)


def queue_depths(samples, title: str = "キューの深さ", *, shade: tuple[float, float, str] | None = None, ax=None):
    """How deep each queue was over time: ``samples`` = [(seconds, {queue: depth}), ...].

    ``shade=(start, end, label)`` marks a stretch of time (an outage, say) behind the lines.
    """
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(8, 3.5))
    names = list(samples[0][1]) if samples else []
    for name in names:
        ax.step([t for t, _ in samples], [depths[name] for _, depths in samples], where="post", label=name, linewidth=2)
    if shade is not None:
        start, end, label = shade
        ax.axvspan(start, end, color="tab:red", alpha=0.1, label=label)
    ax.set_xlabel("経過時間 (秒)")
    ax.set_ylabel("キューの深さ (件)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return finish(ax, own)


def finish(ax, own: bool):
    """Show a figure this module made (returning None); hand back an axis the caller gave."""
    ax.figure.tight_layout()
    if not own:
        return ax
    plt.show()
    return None


def metric_over_time(series: dict, title: str, ylabel: str, threshold: float | None = None,
                     threshold_label: str = "アラームのしきい値", ax=None):
    """One line per label: ``series = {label: (times, values)}``, with an alarm threshold as a dashed line."""
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(7, 3.2))
    for label, (times, values) in series.items():
        ax.plot(times, values, label=label)
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", linestyle="--", linewidth=1, label=threshold_label)
    ax.set_title(title)
    ax.set_xlabel("時刻 (秒, シミュレーションの時計)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return finish(ax, own)
