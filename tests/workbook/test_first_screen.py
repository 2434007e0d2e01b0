"""The first screen a learner sees: JupyterLab in Japanese, and every menu item a notebook or the
README names (「カーネルを再起動してすべて実行」) is a string of this JupyterLab's UI in the language
pack. The browser test (tests/browser) then finds it in the menus themselves (a translated string
can exist that no menu shows: 「カーネルを再起動してすべて実行」 is one)."""
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


def shown_by_jupyterlab(name: str, catalog: dict[str, str], bundle: str) -> bool:
    """Is ``name`` a label this JupyterLab draws in Japanese? Either one translated string of its
    bundle, or two joined as it joins a command made of two (the Kernel menu's "Restart Kernel"
    + "Run All Cells…" is trans.__("%1 and %2", ...), in Japanese 「%1 と %2」)."""
    def single(text: str) -> bool:
        return any(ja.rstrip(ELLIPSIS) == text.rstrip(ELLIPSIS) and f'__("{m}")' in bundle for m, ja in catalog.items())

    between = catalog["%1 and %2"].partition("%1")[2].partition("%2")[0]  # " と "
    first, joined, second = name.partition(between)
    return single(name) or bool(joined and single(first) and single(second))


def test_every_menu_item_a_lesson_names_is_in_the_japanese_ui():
    names = quoted_ui_names()
    assert "カーネルを再起動 と すべてのセルを実行…" in names  # notebook 00 tells learners to use it
    catalog, bundle = japanese_catalog(), jupyterlab_ui_strings()
    assert '__("%1 and %2"' in bundle
    for name, where in names.items():
        assert shown_by_jupyterlab(name, catalog, bundle), \
            f"「{name}」 ({', '.join(where)}) is not a label of this JupyterLab in Japanese"


def test_a_name_jupyterlab_never_shows_is_caught():
    catalog, bundle = japanese_catalog(), jupyterlab_ui_strings()
    assert shown_by_jupyterlab("カーネルを再起動", catalog, bundle)
    assert not shown_by_jupyterlab("カーネルを再起動して全部実行", catalog, bundle)
    assert not shown_by_jupyterlab("カーネルを再起動 と 全部実行", catalog, bundle)
