"""Lesson 05's own charts draw everything whole, measured as tests/observe/test_plots_fit.py does."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from labs.workbook.lessons import lesson05  # noqa: E402
from labs.workbook.lessons.lesson05 import LagSample, SagaExecution  # noqa: E402
from tests.observe.test_plots_fit import cut_off  # noqa: E402

pytestmark = [pytest.mark.no_sandbox, pytest.mark.filterwarnings("error::UserWarning")]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _history(states: list[str], seconds: float) -> list[dict]:
    rows, t = [], 0.0
    for state in states:
        rows.append({"経過": f"+{t:.3f}s", "イベント": "TaskStateEntered", "ステート": state})
        t += seconds
        rows.append({"経過": f"+{t:.3f}s", "イベント": "TaskStateExited", "ステート": state})
    return rows


@pytest.mark.parametrize("seconds", [0.001, 0.05, 2.0])
def test_the_saga_chart_keeps_the_last_steps_time_inside_the_frame(seconds):
    states = ["ReserveStock", "ChargePayment", "ShipOrder", "RefundPayment", "ReleaseStock", "OrderFailed"]
    ax = lesson05.plot_saga(SagaExecution("arn", "FAILED", None, "e", "c", _history(states, seconds)))
    assert cut_off(ax.figure) == []


def test_the_event_chain_and_the_projection_lag_fit():
    steps = [{"発行元": "order", "イベント": "OrderPlaced", "受信": "inventory, payment"},
             {"発行元": "inventory", "イベント": "StockReserved", "受信": "payment"},
             {"発行元": "payment", "イベント": "PaymentFailed", "受信": "inventory (失敗), order"},
             {"発行元": "inventory", "イベント": "StockReleased", "受信": "order"}]
    chain = lesson05.plot_event_chain(steps)
    lag = lesson05.plot_projection_lag([LagSample(f"lag-{n:03d}", n * 0.1, n * 0.1 + 0.05 + 0.01 * n) for n in range(10)])
    assert (cut_off(chain.figure), cut_off(lag)) == ([], [])
