"""Tables fit a notebook cell: a wide matrix turns its long headers sideways; text aligns by display width."""
import re

import pytest

from labs.observe import table

pytestmark = pytest.mark.no_sandbox

RULES = ["order-created", "order-shipped", "order-cancelled", "high-value", "vip-customer", "not-test-channel",
         "has-coupon", "priority"]


def headers(html: str) -> dict[str, str]:
    return {name: style for style, name in re.findall(r"<th style='([^']*)'>([^<]*)</th>", html)}


def test_a_wide_matrix_writes_its_long_headers_over_marks_sideways():
    # Lesson 01's rule matrix: six columns of values, then a ✓ (or nothing) per rule.
    rows = [{"イベント": f"S{i:02}", "種類": "OrderCancelled", "customerId": "CUST-7", "amount": "60000",
             "channel": "web", "coupon": "VIP10", **{rule: "✓" if i % 2 else "" for rule in RULES}} for i in range(12)]
    shown = headers(table(rows)._repr_html_())
    assert [name for name, style in shown.items() if "vertical" in style] == RULES
    assert "keep-all" in shown["イベント"]  # a Japanese header never breaks inside a word


def test_a_table_that_fits_keeps_its_headers_level():
    shown = headers(table([{"項目": "受信", "count": 3}, {"項目": "削除", "count": 12}])._repr_html_())
    assert not any("vertical" in style for style in shown.values())


def test_text_columns_line_up_by_display_width():
    # Wide and full-width characters take two terminal columns, half-width katakana (ｱｲｳ) one.
    text = repr(table([{"名前": "在庫", "件数": 3}, {"名前": "ＡＢ", "件数": 12}, {"名前": "ｱｲｳ", "件数": 0}]))
    assert text.splitlines() == ["名前 | 件数", "-----+-----", "在庫 | 3", "ＡＢ | 12", "ｱｲｳ  | 0"]
