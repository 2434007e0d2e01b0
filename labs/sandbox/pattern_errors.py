"""Japanese explanations of AWS's refusals of an event pattern or a filter policy.

AWS answers a bad EventBridge pattern with ``InvalidEventPatternException`` and a bad SNS filter
policy with ``InvalidParameter``; their messages (Event Ruler's wording) stay what boto3 raises.
``explain`` adds, beside them, what the learner should change.
"""
from __future__ import annotations

import re

# (what AWS's message contains, what to do) - checked in order, the first that fits wins.
_HINTS = (
    (r'"(?P<name>[^"]+)" must be an object or an array',
     '"{name}" の値は、比べる値の配列 ([...]) か、入れ子のオブジェクト ({{...}}) で書きます。'
     '演算子も配列の中に入れます (例: {{"amount": [{{"numeric": [">=", 10000]}}]}})。'),
    (r"Empty arrays are not allowed", "空の配列 [] は書けません。一致させたい値を 1 つ以上並べてください。"),
    (r"Match value must be String, number, true, false, or null",
     "配列の中に書けるのは文字列・数値・true・false・null と、演算子のオブジェクトだけです (配列の入れ子は書けません)。"),
    (r"Unrecognized match type (?P<name>\S+)",
     "{name} という演算子はありません。prefix, suffix, anything-but, numeric, exists, cidr, "
     "equals-ignore-case, wildcard (EventBridge のみ) を小文字で書きます。"),
    (r"Only one key allowed in match expression",
     "1 つの {{ }} に書ける演算子は 1 つだけです。条件を並べるときは配列の要素を分けます (どれか 1 つに合えば一致)。"),
    (r"numeric|Bottom must be less than top|Value of (=|<|<=|>|>=|equals) must be numeric",
     'numeric は [">", 0, "<=", 100] のように「演算子, 数値」の順に書きます。数値は引用符なし、'
     "範囲は下限 (> か >=) のあとに上限 (< か <=) を 1 組だけ、下限 < 上限 で書きます。"),
    (r"anything.but",
     "anything-but の値は文字列か数値 (またはそのどちらかだけの配列) です。入れ子にできるのは "
     "prefix, suffix, equals-ignore-case, wildcard (SNS は prefix のみ) で、値は文字列です。"),
    (r"(prefix|suffix|wildcard|equals-ignore-case|prefix/suffix) match pattern must be a string|Null prefix/suffix",
     "prefix / suffix / wildcard / equals-ignore-case の値は空でない文字列 1 つだけです (数値・配列・null は書けません)。"),
    (r"CIDR|IP address|mask bits", 'cidr は "10.0.0.0/24" のように「IP アドレス/ビット数」の文字列で書きます。'),
    (r"exists match pattern", "exists の値は true か false です (引用符なし)。"),
    (r"[Ww]ildcard|Rule is too complex",
     "wildcard の * は連続させられず、\\ のあとに書けるのは * と \\ だけです。* を減らすと受け付けられます。"),
    (r"more than 5 keys", "フィルターポリシーのキーは 5 つまでです (入れ子では一番外側のキーを数えます)。"),
    (r"too complex", "値の組み合わせ (各キーの値の数の積、入れ子は深さも掛ける) は 150 までです。条件を減らしてください。"),
    (r"does not support nested filter policy",
     "メッセージ属性 (MessageAttributes) を見るポリシーは入れ子にできません。本文の入れ子で絞るなら "
     "FilterPolicyScope を MessageBody にします。"),
    (r"FilterPolicyScope", "FilterPolicyScope は MessageAttributes か MessageBody のどちらかです。"),
    (r"Parameter Event is not valid",
     "TestEventPattern のイベントは JSON オブジェクトで、id, account, source, time, region, detail-type が必要です。"),
    (r"Unrecognized token|Unexpected character|not valid JSON|failed to parse JSON|Filter is not an object",
     "JSON のオブジェクトとして読めません。Python の dict を json.dumps(...) で文字列にして渡してください。"),
)


def explain(message: str) -> str:
    """What to change, in Japanese, for AWS's refusal ``message`` (its own words stay beside it)."""
    for pattern, hint in _HINTS:
        found = re.search(pattern, message)
        if found:
            return hint.format(**found.groupdict())
    return "AWS の説明 (英語) をそのまま示しています。イベントパターン / フィルターポリシーの書き方を確認してください。"
