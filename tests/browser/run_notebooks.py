"""The learner's view: every notebook run in JupyterLab, in a real browser (``make test-browser``).

nbval proves a notebook executes; it cannot see what JupyterLab shows. This driver starts
JupyterLab on 127.0.0.1 with a token, opens each notebook of ``notebooks/`` and
``solutions/`` in Chromium (Debian's, driven by Playwright), waits for the kernel to be
idle, runs all cells through the Run menu, and checks what a learner would see:

* no error output (a traceback, an output JupyterLab cannot render, a dialog); the
  learner notebooks' "⏳ 未実装" reports are printed text, not errors;
* every mermaid diagram rendered (an SVG picture inside JupyterLab's mermaid element);
* every plot rendered as an image, as many as the solution shows;
* every output as wide as its cell at most: no output area that scrolls sideways, nothing in
  it reaching past the cell's right edge (a table too wide, an unbroken line);
* Japanese text drawn with a real font (the font Chromium used for it, and glyphs that
  differ from one another: tofu boxes all look the same);
* JupyterLab in Japanese, as a learner gets it: the menus are clicked by their Japanese
  names, and every menu or menu item the prose names (「...」) is in the menu bar or the
  Kernel or Run menu;
* a verdict badge per check cell, reading its word (合格 / 未実装), and no symbol (✅ ❌ ⏳)
  that this browser can only draw as an empty box; every id in a verdict on one line;

and, after the notebooks, grades a class of two with ``python -m labs.workbook grade`` and opens
the gradebook's HTML report (table, badges, chart) as an instructor would.

Saves a screenshot per notebook under ``build/screenshots/``. The notebooks run on a
copy in a temporary folder, so the repository's files are never touched.

Run as ``python tests/browser/run_notebooks.py [NOTEBOOK ...]``; not collected by pytest
(the file name does not start with ``test_``), since it needs a browser.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
RUN_TIMEOUT = 240  # seconds for one notebook's Run All
SCREENSHOT_MAX_HEIGHT = 16000

# JupyterLab settings for an unattended run: no autosave (the run saves explicitly, on the
# copy), every cell in the DOM (no virtual scrolling), no news or update pop-ups, no
# extension manager reaching out to a package index.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
}


def log(message: str) -> None:
    print(message, flush=True)


# --- JupyterLab ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The project's settings override (JupyterLab in Japanese), as the install puts it in the venv:
# given to our server as its application settings, so the run sees what a learner sees.
APP_SETTINGS = ROOT / "jupyter-config"
# Main menus by the names a learner sees (the Japanese language pack).
MENU = {"run": "実行", "file": "ファイル", "kernel": "カーネル"}
UI_WORDS = ("カーネル", "セル", "すべて実行", "再起動", "保存", "メニュー")  # as tests/workbook/test_first_screen.py


class Lab:
    """A JupyterLab server of our own on 127.0.0.1, serving a copy of the notebooks."""

    def __init__(self, work: Path, log_path: Path) -> None:
        self.work = work
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> None:
        settings = self.work / ".lab" / "settings"
        for plugin, values in LAB_SETTINGS.items():
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")
        env = dict(os.environ)
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"):
            env[name] = str(self.work / ".lab" / name.lower())
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.work}", f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.app_settings_dir={APP_SETTINGS}",
            f"--LabApp.workspaces_dir={self.work / '.lab' / 'workspaces'}",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({self.process.returncode}); see {self.log_path}")
            try:
                self.api("GET", "/api/status")
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer within {timeout} s; see {self.log_path}")

    def api(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(
            self.url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def sessions(self) -> list[dict]:
        return self.api("GET", "/api/sessions")

    def shut_down_kernels(self) -> None:
        for session in self.sessions():
            self.api("DELETE", f"/api/sessions/{session['id']}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.shut_down_kernels()
            self.api("POST", "/api/shutdown")
            self.process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGTERM)  # the server's own process group only
            self.process.wait(timeout=10)
        finally:
            self._log.close()


# --- what a notebook should show -----------------------------------------------------------

@dataclass
class Expected:
    code_cells: int  # code cells with source: each gets an execution count
    mermaid: int  # ```mermaid fences in markdown cells
    images: int  # plots the solution shows (image/png outputs saved in it)
    checks: int  # check("...") calls: each shows a verdict badge
    verdict: str  # what every badge must say: passed (a solution) or not_implemented (a learner copy)
    menu_items: list[str]  # 「...」 menu items the prose names: each must be in JupyterLab's menus


def expected_for(path: Path, solution: Path | None) -> Expected:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    source = lambda cell: "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    code = sum(1 for c in cells if c["cell_type"] == "code" and source(c).strip())
    mermaid = sum(source(c).count("```mermaid") for c in cells if c["cell_type"] == "markdown")
    images = 0
    if solution and solution.exists():
        solved = json.loads(solution.read_text(encoding="utf-8"))
        images = sum(1 for c in solved["cells"] if c["cell_type"] == "code"
                     for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    # an exercise's check(...) or a quiz question's quiz.answer(...): each shows one verdict badge
    checks = sum(len(re.findall(r"\b(?:check|answer)\(\s*[\"']", source(c))) for c in cells if c["cell_type"] == "code")
    learner_copy = solution is None or path.resolve() != solution.resolve()
    # "キャンセル" (an order's cancel) holds "セル" (a cell) but names no menu
    menu_items = sorted({q for c in cells if c["cell_type"] == "markdown" for q in re.findall(r"「([^」]+)」", source(c))
                         if any(word in q.replace("キャンセル", "") for word in UI_WORDS)})
    return Expected(code, mermaid, images, checks, "not_implemented" if learner_copy else "passed", menu_items)


@dataclass
class Result:
    name: str
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    screenshot: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures


# --- in the page ----------------------------------------------------------------------------

STATE_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim());
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator')
                 || document.querySelector('.jp-Notebook-ExecutionIndicator');
  return {
    status: indicator ? indicator.getAttribute('data-status') : null,
    running: prompts.filter(p => p.includes('*')).length,
    numbered: prompts.filter(p => /\\[\\d+\\]/.test(p)).length,
    dialogs: [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText.slice(0, 300)),
  };
}"""

INSPECT_JS = """async () => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const outputs = [...panel.querySelectorAll('.jp-OutputArea-output')];
  const text = o => (o.innerText || '').slice(0, 400);
  const mermaid = [...panel.querySelectorAll('.jp-RenderedMermaid')].map(m => {
    const img = m.querySelector('figure img');
    const src = img ? img.getAttribute('src') || '' : '';
    return {warning: m.classList.contains('jp-mod-warning'),
            svg: src.startsWith('data:image/svg+xml') && decodeURIComponent(src).includes('<svg'),
            loaded: !!img && img.complete && img.naturalWidth > 0,
            detail: m.classList.contains('jp-mod-warning') ? (m.innerText || '').slice(0, 300) : ''};
  });
  const images = [...panel.querySelectorAll('.jp-OutputArea-output.jp-RenderedImage img, .jp-OutputArea-output .jp-RenderedImage img')].map(
    img => ({loaded: img.complete && img.naturalWidth > 0, width: img.naturalWidth}));
  const unrendered = outputs.map(text).filter(t => t.includes('No renderer could be found') ||
                                                   t.includes('Javascript Error'));
  const figuresAsText = outputs.map(text).filter(t => /^<Figure size \\d+x\\d+ with \\d+ Axes>/m.test(t));
  const stderr = [...panel.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(text);
  const notYet = outputs.map(text).filter(t => t.includes('未実装')).length;
  const verdicts = [...panel.querySelectorAll('.jp-OutputArea-output .labs-verdict')].map(v => {
    const badge = v.querySelector('.labs-verdict-badge');
    const box = badge ? badge.getBoundingClientRect() : {width: 0, height: 0};
    return {status: v.getAttribute('data-verdict'), word: badge ? badge.textContent.trim() : '',
            colour: badge ? getComputedStyle(badge).backgroundColor : '', width: box.width, height: box.height};
  });
  const emoji = outputs.map(text).filter(t => /[\u2705\u274c\u23f3]/.test(t)).map(t => t.slice(0, 80));
  // an id in a verdict (ORD-001, a message id) drawn on one line, not broken after a "-"
  const brokenIds = [...panel.querySelectorAll('.labs-verdict .labs-id')].filter(s => s.getClientRects().length > 1)
    .map(s => s.textContent);
  const ids = panel.querySelectorAll('.labs-verdict .labs-id').length;
  return {mermaid, images, unrendered, figuresAsText, stderr, notYet, verdicts, emoji, brokenIds, ids};
}"""

# Tofu (no font has the glyph) draws the same box for every character: draw three different
# kanji in the font the notebook's Japanese heading uses and require three different pictures.
GLYPHS_JS = """(selector) => {
  const node = document.querySelector(selector);
  if (!node) return null;
  const style = getComputedStyle(node);
  const font = `${style.fontWeight} 32px ${style.fontFamily}`;
  const pictures = ['日', '本', '語'].map(ch => {
    const canvas = document.createElement('canvas'); canvas.width = 48; canvas.height = 48;
    const ctx = canvas.getContext('2d'); ctx.font = font; ctx.fillStyle = '#000';
    ctx.fillText(ch, 4, 36);
    return canvas.toDataURL();
  });
  return {family: style.fontFamily, distinct: new Set(pictures).size, text: node.textContent.slice(0, 60)};
}"""

# The same test for a symbol: drawn in the output's font, does it differ from a character no
# font has (U+10FFFD, private use)? If not, the learner sees an empty box.
SYMBOL_JS = """(symbol) => {
  const output = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output') || document.body;
  const style = getComputedStyle(output);
  const draw = ch => { const canvas = document.createElement('canvas'); canvas.width = 48; canvas.height = 48;
    const ctx = canvas.getContext('2d'); ctx.font = `32px ${style.fontFamily}`; ctx.fillText(ch, 4, 36);
    return canvas.toDataURL(); };
  return draw(symbol) !== draw('\\u{10FFFD}');
}"""

# Outputs wider than their cell: the output area scrolls sideways (its scrollWidth exceeds its
# clientWidth: a column hidden behind a scrollbar), or something in it reaches past its right
# edge (cut off). Reported per cell with the widest offender.
OVERFLOW_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const cells = [...panel.querySelectorAll('.jp-Cell')];
  const found = [];
  for (const output of panel.querySelectorAll('.jp-OutputArea-output')) {
    const edge = output.getBoundingClientRect().right;
    let over = 0, what = '';
    for (const node of output.querySelectorAll('*')) {
      const box = node.getBoundingClientRect();
      if (box.width > 0 && box.right - edge > over) {
        over = box.right - edge;
        what = node.tagName.toLowerCase() + ': ' + (node.innerText || '').trim().slice(0, 40);
      }
    }
    const scroll = output.scrollWidth - output.clientWidth;
    if (scroll > 1 || over > 1) {
      found.push({cell: cells.indexOf(output.closest('.jp-Cell')), scroll, over: Math.round(over),
                  width: output.clientWidth, what});
    }
  }
  return found;
}"""

JAPANESE_HEADING = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMarkdown :is(h1,h2,h3,p)"


def japanese_font(page, failures: list[str], notes: list[str]) -> None:
    """Which font Chromium really drew the Japanese heading with, and that it is not tofu."""
    node_index = page.evaluate(f"""() => [...document.querySelectorAll('{JAPANESE_HEADING}')]
        .findIndex(n => /[\\u3040-\\u30ff\\u4e00-\\u9fff]/.test(n.textContent))""")
    if node_index < 0:
        failures.append("日本語のテキストが見つかりません")
        return
    page.evaluate(f"""(i) => document.querySelectorAll('{JAPANESE_HEADING}')[i].setAttribute('data-jp-probe', '1')""",
                  node_index)
    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "[data-jp-probe]"})["nodeId"]
        cdp.send("CSS.enable")
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()
    used = ", ".join(f"{f['familyName']} ({f['glyphCount']})" for f in fonts)
    cjk = [f for f in fonts if any(k in f["familyName"] for k in ("CJK", "IPA", "Noto Sans JP", "Gothic", "Mincho",
                                                                  "Hiragino", "Meiryo", "Yu ", "Takao", "VL "))]
    glyphs = page.evaluate(GLYPHS_JS, "[data-jp-probe]")
    notes.append(f"日本語フォント: {used or '?'}")
    if not cjk:
        failures.append(f"日本語が日本語フォントで描かれていません: {used or 'フォント不明'}")
    if glyphs and glyphs["distinct"] < 3:
        failures.append(f"日本語の字形が区別できません (豆腐): font-family {glyphs['family']}")


def wait_idle(page, lab: Lab, timeout: float, settle: float = 1.0) -> dict:
    """Until the kernel is idle (toolbar and server agree) and nothing is queued, for ``settle`` s."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    state = {}
    while time.monotonic() < deadline:
        state = page.evaluate(STATE_JS) or {}
        kernels = [s["kernel"]["execution_state"] for s in lab.sessions()]
        idle = state.get("status") == "idle" and not state.get("running") and kernels and set(kernels) == {"idle"}
        if idle:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                return state
        else:
            quiet_since = None
        time.sleep(0.25)
    raise TimeoutError(f"{timeout:.0f} 秒待っても終わりません (状態: {state})")


def menu_labels(page, menu: str) -> list[str]:
    """The item names of a main menu, as shown (opened, read, closed)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.wait_for_selector(".lm-Menu .lm-Menu-itemLabel")
    labels = page.evaluate("() => [...document.querySelectorAll('.lm-Menu .lm-Menu-itemLabel')].map(l => l.textContent.trim())")
    page.keyboard.press("Escape")
    return labels


def run_menu(page, menu: str, *commands: str) -> None:
    """Open a main menu and click the item bound to one of ``commands`` (as a learner would)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(", ".join(f"li.lm-Menu-item[data-command='{c}']" for c in commands)).first.click()


def read_saved(copy: Path, before: int, timeout: float = 20) -> dict:
    """The notebook as the server saved it: wait until it changed *and* is whole JSON
    (the server may still be writing it when its mtime first moves)."""
    deadline = time.monotonic() + timeout
    while True:
        if copy.stat().st_mtime_ns != before:
            try:
                return json.loads(copy.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                if time.monotonic() > deadline:
                    raise
        elif time.monotonic() > deadline:
            raise TimeoutError(f"{copy.name} was not saved within {timeout:.0f} s")
        time.sleep(0.2)


def run_notebook(context, lab: Lab, relative: str, expected: Expected, screenshots: Path) -> Result:
    result = Result(relative)
    started = time.monotonic()
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)[:200]))
    workspace = relative.replace("/", "-").replace(".ipynb", "")
    copy = lab.work / relative
    try:
        page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{urllib.parse.quote(relative)}?token={lab.token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
        wait_idle(page, lab, timeout=90)

        run_menu(page, MENU["run"], "runmenu:run-all", "notebook:run-all-cells")
        page.wait_for_function("""() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                                   .some(p => /\\*|\\[\\d+\\]/.test(p.textContent))""", timeout=30_000)
        state = wait_idle(page, lab, timeout=RUN_TIMEOUT, settle=1.5)
        result.seconds = time.monotonic() - started

        # Save the copy, so the kernel's own record of every output can be read back.
        before = copy.stat().st_mtime_ns
        run_menu(page, MENU["file"], "docmanager:save")
        saved = read_saved(copy, before)
        check(page, state, saved, expected, result)
        japanese_font(page, result.failures, result.notes)
        shown = [label.rstrip("…") for menu in (MENU["kernel"], MENU["run"]) for label in menu_labels(page, menu)]
        shown += page.evaluate("() => [...document.querySelectorAll('.lm-MenuBar-itemLabel')].map(l => l.textContent.trim())")
        result.failures += [f"「{item}」 はメニューにありません" for item in expected.menu_items if item.rstrip("…") not in shown]
        result.notes += [f"ページのエラー: {e}" for e in page_errors[:3]]
    except Exception as error:  # a stuck or broken page is a failure of this notebook, not of the run
        result.failures.append(f"{type(error).__name__}: {str(error)[:300]}")
    finally:
        result.screenshot = screenshot(page, screenshots, relative)
        try:
            lab.shut_down_kernels()
        except OSError:
            pass
        page.close()
    result.seconds = result.seconds or time.monotonic() - started
    return result


def check(page, state: dict, saved: dict, expected: Expected, result: Result) -> None:
    seen = page.evaluate(INSPECT_JS)
    failures = result.failures
    for index, cell in enumerate(saved["cells"]):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                failures.append(f"セル {index}: {output.get('ename')}: {output.get('evalue', '')[:200]}")
    if state.get("dialogs"):
        failures.append(f"ダイアログ: {state['dialogs']}")
    if state.get("numbered", 0) < expected.code_cells:
        failures.append(f"実行されたコードセル {state.get('numbered')} / {expected.code_cells}")
    failures += [f"表示できない出力: {t[:200]}" for t in seen["unrendered"]]
    if not any("セル" in f for f in failures):  # a traceback printed by the code itself (logging, ...)
        failures += [f"stderr にトレースバック: {t[:200]}" for t in seen["stderr"] if "Traceback" in t]
    failures += [f"フォントの警告: {t[:200]}" for t in seen["stderr"] if "missing from" in t]

    failures += [f"セル {o['cell']}: 出力がセルの幅 {o['width']}px を超えています"
                 f" (横スクロール {o['scroll']}px, はみ出し {o['over']}px: {o['what']})" for o in page.evaluate(OVERFLOW_JS)]

    diagrams = seen["mermaid"]
    if len(diagrams) != expected.mermaid:
        failures.append(f"mermaid 図 {len(diagrams)} / {expected.mermaid}")
    for number, diagram in enumerate(diagrams, 1):
        if diagram["warning"] or not diagram["svg"] or not diagram["loaded"]:
            failures.append(f"mermaid 図 {number} が描かれていません {diagram['detail'][:200]}")

    images = seen["images"]
    saved_images = sum(1 for c in saved["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    if len(images) < max(expected.images, saved_images):
        failures.append(f"グラフ画像 {len(images)} / {max(expected.images, saved_images)}")
    if any(not image["loaded"] for image in images):
        failures.append("読み込めないグラフ画像があります")
    failures += [f"グラフが画像でなく文字で出ています: {t[:80]}" for t in seen["figuresAsText"]]

    verdicts = seen["verdicts"]
    words = {"passed": "合格", "failed": "不合格", "not_implemented": "未実装"}
    quiz_words = {"passed": "正解", "failed": "不正解", "not_implemented": "未回答"}  # the quiz's badges
    if len(verdicts) != expected.checks:
        failures.append(f"判定バッジ {len(verdicts)} / {expected.checks}")
    for verdict in verdicts:
        readable = verdict["word"] in (words.get(verdict["status"]), quiz_words.get(verdict["status"]))
        if not readable or verdict["width"] < 20 or verdict["height"] < 10:
            failures.append(f"判定バッジが読めません: {verdict}")
        elif verdict["status"] != expected.verdict:
            failures.append(f"判定が {verdict['word']} です (期待: {words[expected.verdict]})")
    if verdicts and len({v["colour"] for v in verdicts if v["status"] == verdicts[0]["status"]}) != 1:
        failures.append("同じ判定のバッジの色が揃っていません")
    failures += [f"判定の中の id が行をまたいで折り返されています: {text}" for text in seen["brokenIds"]]
    for symbol in sorted({ch for t in seen["emoji"] for ch in t if ch in "\u2705\u274c\u23f3"}):
        if not page.evaluate(SYMBOL_JS, symbol):
            failures.append(f"記号 {symbol} (U+{ord(symbol):04X}) がこのブラウザでは空の四角になります: {seen['emoji'][0]!r}")
    result.notes.append(f"mermaid {len(diagrams)}, グラフ {len(images)}, 判定バッジ {len(verdicts)} (中の id {seen['ids']}),"
                        f" 未実装の報告 {seen['notYet']}")
    other = [t for t in seen["stderr"] if "Traceback" not in t and "missing from" not in t and "it/s" not in t
             and "%|" not in t]
    result.notes += [f"stderr: {t[:120]!r}" for t in other[:3]]


def screenshot(page, folder: Path, relative: str) -> str:
    """The whole notebook: the viewport grows to the notebook's height (capped) for the shot."""
    path = folder / (relative.replace("/", "__").replace(".ipynb", ".png"))
    try:
        height = page.evaluate("""() => {
          const scroller = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer')
                        || document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
          if (!scroller) return 0;
          scroller.scrollTop = 0;
          return scroller.scrollHeight; }""")
        page.set_viewport_size({"width": 1280, "height": max(900, min(SCREENSHOT_MAX_HEIGHT, height + 200))})
        page.wait_for_timeout(300)
        page.screenshot(path=str(path))
    except Exception as error:
        return f"(screenshot failed: {error})"
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# --- the gradebook's report -------------------------------------------------------------------------

GRADEBOOK_JS = """() => ({
  title: document.title,
  grades: [...document.querySelectorAll('#grades tr')].slice(1).map(r => [r.querySelector('th').textContent,
          ...[...r.querySelectorAll('.badge')].map(b => b.textContent)]),
  bars: [...document.querySelectorAll('svg rect')].filter(r => r.getBoundingClientRect().width > 0).length,
  chart: (() => { const svg = document.querySelector('svg'); const box = svg ? svg.getBoundingClientRect() : null;
                  return box ? box.width * box.height : 0; })(),
})"""


def gradebook_report(context, out: Path) -> Result:
    """Grade a class of two (a solved and an untouched 00) and open the report as an instructor would."""
    result = Result("gradebook/report.html")
    started = time.monotonic()
    report = out / "gradebook"
    with tempfile.TemporaryDirectory(prefix="labs-class-") as tmp:
        for learner, source in (("solved", "solutions"), ("untouched", "notebooks")):
            (Path(tmp) / learner).mkdir()
            shutil.copy2(ROOT / source / "00_introduction.ipynb", Path(tmp) / learner)
        graded = subprocess.run([sys.executable, "-m", "labs.workbook", "grade", tmp, "--out", str(report)],
                                cwd=ROOT, capture_output=True, text=True)
    if graded.returncode:
        result.failures.append(f"grade が失敗しました: {(graded.stdout + graded.stderr)[-300:]}")
        return result
    page = context.new_page()
    try:
        page.goto((report / "report.html").as_uri())
        seen = page.evaluate(GRADEBOOK_JS)
        if seen["grades"] != [["solved", "合格"], ["untouched", "未実装"]]:
            result.failures.append(f"成績表の内容: {seen['grades']}")
        if seen["bars"] < 2 or seen["chart"] < 1000:
            result.failures.append(f"進み具合のグラフが描かれていません: {seen}")
        glyphs = page.evaluate(GLYPHS_JS, "#grades .badge")
        if not glyphs or glyphs["distinct"] < 3:
            result.failures.append(f"バッジの日本語が豆腐になります: {glyphs}")
        result.notes.append(f"{seen['title']}: {seen['grades']}, 棒 {seen['bars']}")
    finally:
        result.screenshot = screenshot(page, out, "gradebook/report.ipynb")
        page.close()
    result.seconds = time.monotonic() - started
    return result


# --- the run --------------------------------------------------------------------------------------

def discover(arguments: list[str]) -> dict[str, Path]:
    """Notebook paths as JupyterLab will show them -> the files they are copied from."""
    paths = [Path(a).resolve() for a in arguments] or [
        p for folder in ("notebooks", "solutions") for p in sorted((ROOT / folder).glob("*.ipynb"))]
    return {str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else f"other/{p.name}": p for p in paths}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: notebooks/*.ipynb solutions/*.ipynb)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "screenshots")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    notebooks = discover(args.notebooks)
    if not notebooks:
        log("ノートブックがありません")
        return 1
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    results: list[Result] = []
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="labs-browser-") as tmp:
        work = Path(tmp) / "root"
        for folder in {Path(n).parent for n in notebooks}:
            (work / folder).mkdir(parents=True, exist_ok=True)
        for relative, source in notebooks.items():
            shutil.copy2(source, work / relative)
        lab = Lab(work, args.out / "jupyterlab.log")
        lab.start()
        log(f"JupyterLab {lab.url} (token 付き), Chromium {CHROMIUM}: {len(notebooks)} notebooks")
        try:
            with sync_playwright() as playwright:
                context = playwright.chromium.launch_persistent_context(
                    str(Path(tmp) / "chromium-profile"), executable_path=CHROMIUM, headless=True,
                    args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900}, locale="ja-JP")
                try:
                    for relative in notebooks:
                        solution = ROOT / "solutions" / Path(relative).name
                        result = run_notebook(context, lab, relative, expected_for(notebooks[relative], solution), args.out)
                        results.append(result)
                        mark = "ok  " if result.ok else "FAIL"
                        log(f"{mark} {relative:40} {result.seconds:5.1f}s  {result.screenshot}")
                        for line in result.failures:
                            log(f"     ✗ {' '.join(line.split())[:400]}")  # one line each
                        for line in result.notes:
                            log(f"       {line}")
                    if not args.notebooks:  # the whole run: also the instructor's gradebook
                        result = gradebook_report(context, args.out)
                        results.append(result)
                        log(f"{'ok  ' if result.ok else 'FAIL'} {result.name:40} {result.seconds:5.1f}s  {result.screenshot}")
                        for line in result.failures + result.notes:
                            log(f"     {line}")
                finally:
                    context.close()
        finally:
            lab.stop()
    (args.out / "report.json").write_text(json.dumps(
        [r.__dict__ for r in results], ensure_ascii=False, indent=1), encoding="utf-8")
    failed = [r for r in results if not r.ok]
    log(f"screenshots: {args.out}  ({time.monotonic() - began:.0f} s)")
    log(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
