"""``python -m labs doctor``: is this machine ready for the workbook? One line per check."""
from __future__ import annotations

import subprocess
import sys
import warnings
from importlib import metadata

from packaging.requirements import Requirement

DISTRIBUTION = "event-driven-workbook"


def check_python():
    ok = sys.version_info >= (3, 11)
    return ok, f"Python {sys.version.split()[0]} (3.11 以上が必要)"


def check_packages():
    """Every package the workbook needs, at the pinned version (extras such as test are not needed to learn)."""
    needed = [Requirement(spec) for spec in metadata.requires(DISTRIBUTION) or []]
    needed = [r for r in needed if not r.marker or r.marker.evaluate({"extra": ""})]
    wrong = []
    for requirement in needed:
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{requirement.name} が未インストール")
            continue
        if installed not in requirement.specifier:
            wrong.append(f"{requirement.name} {installed} (必要: {requirement.specifier})")
    return not wrong, "; ".join(wrong) or f"固定したバージョンのパッケージ {len(needed)} 個"


def check_sandbox():
    from labs import sandbox

    box = sandbox.start()
    sqs = sandbox.client("sqs")
    url = sqs.create_queue(QueueName="labs-doctor")["QueueUrl"]
    try:
        sqs.send_message(QueueUrl=url, MessageBody="ping")
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", [])
    finally:
        sqs.delete_queue(QueueUrl=url)
    ok = [m["Body"] for m in got] == ["ping"]
    return ok, f"{box.describe()}: SQS 送受信 {'成功' if ok else '失敗'}"


def check_font():
    import matplotlib
    import matplotlib_fontja  # noqa: F401
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A figure of its own (not pyplot): the notebook's plotting backend stays untouched.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = Figure()
        FigureCanvasAgg(figure)
        figure.subplots().set_title("日本語のラベル: 注文イベント")
        figure.canvas.draw()
    missing = [w for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]
    family = matplotlib.rcParams["font.family"]
    return not missing, f"グラフの日本語フォント: {family}" + (" (文字化けの警告あり)" if missing else "")


def check_kernel():
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if "python3" not in specs:
        return False, "Jupyter カーネル python3 が見つかりません (make lab で登録されます)"
    python = KernelSpecManager().get_kernel_spec("python3").argv[0]
    result = subprocess.run([python, "-c", "import labs"], capture_output=True, text=True)
    return result.returncode == 0, "Jupyter カーネル python3 から labs を import " + ("できます" if result.returncode == 0 else "できません")


CHECKS = [check_python, check_packages, check_sandbox, check_font, check_kernel]


def main() -> int:
    failures = 0
    for check in CHECKS:
        try:
            ok, message = check()
        except Exception as error:  # a broken check is a FAIL with its reason, not a traceback
            ok, message = False, f"{check.__name__}: {type(error).__name__}: {error}"
        failures += not ok
        print(f"[{'OK' if ok else 'FAIL'}] {message}")
    print("準備完了です。" if not failures else f"{failures} 件の問題があります。README のトラブルシューティングを見てください。")
    return 1 if failures else 0
