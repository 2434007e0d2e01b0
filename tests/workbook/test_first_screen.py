"""The first screen a learner sees: JupyterLab in Japanese, and every menu item a notebook or the
README names (「カーネルを再起動してすべて実行」) is a string of this JupyterLab's UI in the language
pack. The browser test (tests/browser) then finds it in the menus themselves."""
import json
import re
from importlib import metadata, resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UI_WORDS = ("カーネル", "セル", "すべて実行", "再起動", "保存", "メニュー")  # a quote naming these names the UI
ELLIPSIS = "…"


def quoted_ui_names() -> dict[str, list[str]]:
    """「…」 quotes naming JupyterLab's UI -> where they appear."""
    found: dict[str, list[str]] = {}
    sources = [*sorted((ROOT / "solutions").glob("*.ipynb")), ROOT / "README.md"]
    for path in sources:
        for quote in re.findall(r"「([^」]+)」", path.read_text(encoding="utf-8")):
            if any(word in quote for word in UI_WORDS):
                found.setdefault(quote, []).append(path.name)
    return found


def japanese_catalog() -> dict[str, str]:
    catalog = resources.files("jupyterlab_language_pack_ja_JP") / "locale/ja_JP/LC_MESSAGES/jupyterlab.json"
    return {msgid: value[0] for msgid, value in json.loads(catalog.read_text(encoding="utf-8")).items()
            if msgid and isinstance(value, list)}


def jupyterlab_ui_strings() -> str:
    """Every string JupyterLab's own front end translates (its built bundle)."""
    import jupyterlab

    static = Path(jupyterlab.__file__).parent / "static"
    if not static.exists():  # a system install keeps the bundle under share/jupyter/lab
        from jupyterlab.commands import get_app_dir
        static = Path(get_app_dir()) / "static"
    return "".join(p.read_text(encoding="utf-8", errors="replace") for p in static.glob("*.js"))


def test_the_japanese_pack_matches_this_jupyterlab():
    lab, pack = metadata.version("jupyterlab"), metadata.version("jupyterlab-language-pack-ja-JP")
    assert pack.split(".")[0] == lab.split(".")[0], (lab, pack)


def test_jupyterlab_defaults_to_japanese():
    override = json.loads((ROOT / "jupyter-config/overrides.d/event-driven-workbook.json").read_text(encoding="utf-8"))
    assert override == {"@jupyterlab/translation-extension:plugin": {"locale": "ja_JP"}}


def test_every_menu_item_a_lesson_names_is_in_the_japanese_ui():
    names = quoted_ui_names()
    assert "カーネルを再起動してすべて実行" in names  # notebook 00 tells learners to use it
    catalog, bundle = japanese_catalog(), jupyterlab_ui_strings()
    for name, where in names.items():
        msgids = [m for m, ja in catalog.items() if ja.rstrip(ELLIPSIS) == name.rstrip(ELLIPSIS)]
        assert msgids, f"「{name}」 ({', '.join(where)}) is not a JupyterLab menu name in Japanese"
        used = [m for m in msgids if f'__("{m}")' in bundle]
        assert used, f"「{name}」 ({', '.join(where)}) translates {msgids}, which this JupyterLab never shows"
