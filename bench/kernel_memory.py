"""How much memory a learner's kernel takes, for sizing a class server (README, "Hosting a class").

    .venv/bin/python bench/kernel_memory.py [--kernels 10]

1. One kernel runs every solution notebook top to bottom, one after another (the most one
   learner's kernel can hold: a learner who never restarts). RSS and PSS after each notebook.
2. ``--kernels`` kernels at once, kernel i running notebook i (mod 8), two executing at a time,
   all kept alive; then the RSS and PSS of all of them together. PSS shares the pages of common
   libraries fairly between processes, so the sum of PSS is what the machine really gives them.
3. One idle JupyterLab server (each JupyterHub learner has one, besides their kernels).

Figures come from /proc/PID/status (VmRSS) and /proc/PID/smaps_rollup (Pss): Linux only.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
MB = 1024


def memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in MB."""
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    pss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
               if line.startswith("Pss:"))
    return rss // MB, pss // MB


def run_in(km: KernelManager, notebook: Path, work: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, km=km, timeout=600, resources={"metadata": {"path": str(work)}}).execute()


def started_kernel(work: Path) -> KernelManager:
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(work))
    return km


def one_kernel(notebooks: list[Path], work: Path) -> None:
    km = started_kernel(work)
    try:
        print(f"kernel started: RSS {memory(km.provisioner.process.pid)[0]} MB")
        for notebook in notebooks:
            began = time.monotonic()
            run_in(km, notebook, work)
            rss, pss = memory(km.provisioner.process.pid)
            print(f"after {notebook.name:24} RSS {rss:4d} MB  PSS {pss:4d} MB  ({time.monotonic() - began:.0f} s)", flush=True)
    finally:
        km.shutdown_kernel(now=True)


def many_kernels(notebooks: list[Path], count: int, work: Path) -> None:
    kernels = [started_kernel(work) for _ in range(count)]
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda i: run_in(kernels[i], notebooks[i % len(notebooks)], work), range(count)))
        figures = [memory(km.provisioner.process.pid) for km in kernels]
        for i, (rss, pss) in enumerate(figures):
            print(f"kernel {i} ({notebooks[i % len(notebooks)].name:24}) RSS {rss:4d} MB  PSS {pss:4d} MB")
        print(f"{count} kernels at once: RSS {sum(f[0] for f in figures)} MB, PSS {sum(f[1] for f in figures)} MB "
              f"(PSS per kernel {sum(f[1] for f in figures) / count:.0f} MB)")
    finally:
        for km in kernels:
            km.shutdown_kernel(now=True)


def idle_lab(work: Path) -> None:
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--port=0", "--allow-root",
                               f"--ServerApp.root_dir={work}", "--IdentityProvider.token=memory"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(20)
        rss, pss = memory(server.pid)
        print(f"idle JupyterLab server: RSS {rss} MB  PSS {pss} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernels", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labs-memory-") as tmp:
        work = Path(tmp)
        notebooks = []
        for source in sorted((ROOT / "solutions").glob("*.ipynb")):
            notebooks.append(Path(shutil.copy(source, work)))
        one_kernel(notebooks, work)
        many_kernels(notebooks, args.kernels, work)
        idle_lab(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
