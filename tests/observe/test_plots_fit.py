"""Every plot helper draws everything whole: no dot, bar label or word cut by the frame or the figure.

Measured in matplotlib itself (each artist's extent on the canvas, in pixels), which is cheaper
and more exact than looking at screenshots. The probes prove the measure sees a clipped plot.
"""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from labs.observe import plots  # noqa: E402
from labs.observe.recording import Record  # noqa: E402

pytestmark = [pytest.mark.no_sandbox, pytest.mark.filterwarnings("error::UserWarning")]  # tofu fails too

SLACK = 1.0  # pixels: a line drawn exactly on the frame is inside


def cut_off(figure) -> list[str]:
    """What reaches past its axes' frame (dots, bars, bar labels, lines) or past the figure (words, legends)."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    problems = []
    for ax in figure.axes:
        for artist in [*ax.collections, *ax.lines, *ax.patches, *ax.texts]:
            if artist.get_visible() and not _within(_extent(artist, renderer), ax.bbox):
                problems.append(f"{ax.get_title()!r}: {type(artist).__name__} {_label(artist)} reaches past the frame")
        # Title, axis labels, the tick labels drawn, the legend: what the axes show around its frame.
        if not _within(ax.get_tightbbox(renderer), figure.bbox):
            problems.append(f"{ax.get_title()!r}: its words or legend reach past the figure")
    for text in figure.texts:
        if text.get_visible() and not _within(text.get_window_extent(renderer), figure.bbox):
            problems.append(f"{text.get_text()!r} reaches past the figure")
    return problems


def _extent(artist, renderer) -> Bbox:
    """Where the artist draws, in pixels. A scatter's extent is its dots, each as wide as its marker."""
    if isinstance(artist, PathCollection) and len(artist.get_offsets()):
        centres = artist.get_offset_transform().transform(artist.get_offsets())
        radius = max(artist.get_sizes(), default=0) ** 0.5 / 2 * artist.figure.dpi / 72  # sizes: points²
        return Bbox([centres.min(axis=0) - radius, centres.max(axis=0) + radius])
    return artist.get_window_extent(renderer)


def _within(box, frame) -> bool:
    return (box.x0 >= frame.x0 - SLACK and box.x1 <= frame.x1 + SLACK
            and box.y0 >= frame.y0 - SLACK and box.y1 <= frame.y1 + SLACK)


def _label(artist) -> str:
    return repr(artist.get_text()) if isinstance(artist, Text) else repr(artist.get_label())


@pytest.fixture
def shown(monkeypatch):
    """The figures the helpers show (as a notebook cell would), instead of a window."""
    figures = []
    monkeypatch.setattr(plt, "show", lambda: figures.append(plt.gcf()))
    yield figures
    plt.close("all")


def test_the_measure_sees_a_dot_on_the_edge_and_a_label_above_the_frame(shown):
    # A dot centred on the frame's corner, as the timeline drew its last one.
    _, ax = plt.subplots()
    ax.scatter([0, 1], [0, 1], s=60)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    assert any("PathCollection" in p for p in cut_off(ax.figure))
    # A value label on the tallest bar with no headroom above it.
    _, ax = plt.subplots()
    ax.bar(["a", "b"], [3, 7])
    ax.annotate("7", (1, 7), ha="center", va="bottom")
    ax.set_ylim(0, 7)
    assert any("'7'" in p for p in cut_off(ax.figure))
    # A title wider than its figure.
    _, ax = plt.subplots(figsize=(2, 2))
    ax.set_title("とても長いタイトルは図の幅に収まりません" * 2)
    assert any("past the figure" in p for p in cut_off(ax.figure))


@pytest.mark.parametrize("times", [[0.0], [0.0, 0.031], [0.023, 0.031, 5.0]])
def test_timeline_shows_its_first_and_last_dots_whole(shown, times):
    kinds = ["publish", "invoke", "dlq", "deliver"]
    records = [Record(t, kinds[i % 4], "orders-bus", f"handler-{i % 2}", ["ok", "error"][i % 2])
               for i, t in enumerate(times)]
    plots.timeline(records, title="はじめてのイベント")
    [figure] = shown
    assert cut_off(figure) == []


def test_bar_labels_stay_inside_the_frame(shown):
    plots.bars(["order-created", "high-value", "priority"], [12, 3, 7], title="ルールごとのマッチ数", xlabel="ルール")
    plots.bars(["a"], [0], title="ゼロ件")
    assert [cut_off(figure) for figure in shown] == [[], []]
    labels = [t.get_text() for t in shown[0].axes[0].texts]
    assert labels == ["12", "3", "7"]  # a value on every bar


def test_queue_depths_and_metrics_fit(shown):
    plots.queue_depths([(0, {"inventory-queue": 0, "payment-queue": 5}), (3.0, {"inventory-queue": 9, "payment-queue": 0})],
                       shade=(1.0, 2.0, "障害"))
    plots.metric_over_time({"ApproximateNumberOfMessagesVisible": ([0, 10, 20], [0, 40, 5])},
                           title="キューの滞留", ylabel="件数", threshold=30)
    assert [cut_off(figure) for figure in shown] == [[], []]
