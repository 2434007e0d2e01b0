"""The course's one vocabulary: for each term, the spelling a learner reads everywhere (prose,
check messages, plot labels) and the spellings it replaces. tests/workbook/test_vocabulary.py
keeps notebooks and ``labs`` to it; the glossary (用語集) of notebook 00 lists every term."""
from __future__ import annotations

import re

# canonical spelling -> a pattern of the spellings that must not appear
AVOID = {
    "ローカルランタイム": r"ローカル・ランタイム",
    "フィルター": r"フィルタ(?!ー)",
    "サブスクリプション": r"(?<!サブスクリプション \()購読",  # 購読 once, introduced beside it
    "部分バッチレスポンス": r"部分バッチ応答|部分的なバッチ失敗|部分バッチ失敗",
    "リプレイ": r"再生",
    "変更前後のイメージ": r"変更前後の像|変更[前後]の像",
}


def misspellings(text: str) -> list[tuple[str, str]]:
    """(what was written, what to write instead) for every avoided spelling in ``text``."""
    return [(match.group(0), term) for term, pattern in AVOID.items() for match in re.finditer(pattern, text)]
