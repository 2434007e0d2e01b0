"""Lesson 07 (理解度確認): the quiz's questions, each an exercise whose answer is a function
returning a choice letter. The reference returns the right letter; every other letter,
None and a non-string are known-wrong answers the check must reject.

``labs.workbook.quiz`` asks them and keeps the score; this module holds the questions and
their checks, and imports nothing of the quiz (so the two never import each other).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from labs.workbook import checks
from labs.workbook.checks import exercise


@dataclass(frozen=True)
class Question:
    id: str  # "07.q01": also the exercise id
    topic: str  # a few words, shown in the summary
    lesson: str  # the lesson it comes back to
    text: str  # the question (Japanese, markdown)
    choices: dict[str, str]  # letter -> text
    answer: str  # the correct letter
    explanation: str  # why (Japanese, markdown)
    hint: str = ""  # shown after a first wrong answer, before the answer is revealed (plain text)

    def markdown(self) -> str:
        """The question as a notebook markdown cell shows it."""
        number = int(self.id.rsplit("q", 1)[-1])
        lines = [f"### 問題 {number}: {self.topic} ({self.lesson})", "", self.text, ""]
        lines += [f"**{letter}.** {text}\n" for letter, text in self.choices.items()]
        return "\n".join(lines).rstrip() + "\n"


QUESTIONS: list[Question] = [
    Question(
        "07.q01", "ファンアウトと独自のペース", "コース本文 / レッスン02",
        "複数のサービスに同じイベントを配信し、それぞれが独自のペースで処理する場合、最適な構成は何か。",
        {
            "A": "Lambda から直接各サービスを呼び出す",
            "B": "SNS + 各サービス用の SQS キュー",
            "C": "SQS キューを共有",
            "D": "EventBridge のみ",
        },
        "B",
        "SNS でファンアウトし、各サービスが専用の SQS キューを持つ構成が最適です。各サービスは自分の"
        "ペースで処理でき、障害が他に影響しません。SQS の DLQ で失敗メッセージも管理できます。\n"
        "A は呼び出し側が全サービスの遅延と障害を抱え込みます。C の共有キューでは 1 通を 1 つの"
        "コンシューマーしか受け取れず、配信ではなく取り合いになります。D の EventBridge は"
        "ルーティングは得意ですが、ターゲットが遅いときに溜めておくバッファ (キュー) は持ちません。",
        hint="「それぞれが独自のペースで」処理するには、サービスごとに何が必要でしょうか (レッスン02 のファンアウト)。",
    ),
    Question(
        "07.q02", "EventBridge のイベントパターン", "レッスン01",
        "ルールのイベントパターンが次のとき、**ルールに一致する**イベントはどれか。\n\n"
        "```json\n"
        '{"source": ["com.myapp.orders"],\n'
        ' "detail-type": ["OrderCreated"],\n'
        ' "detail": {"amount": [{"numeric": [">=", 10000]}]}}\n'
        "```",
        {
            "A": '`source: "com.myapp.orders"`, `detail-type: "OrderCreated"`, `detail: {"amount": "15000"}`',
            "B": '`source: "com.myapp.orders"`, `detail-type: "OrderShipped"`, `detail: {"amount": 20000}`',
            "C": '`source: "com.myapp.payments"`, `detail-type: "OrderCreated"`, `detail: {"amount": 50000}`',
            "D": '`source: "com.myapp.orders"`, `detail-type: "OrderCreated"`, `detail: {"amount": 10000}`',
        },
        "D",
        "パターンのキー同士は AND、1 つのキーに並べた値は OR で評価されます。D は 3 つの条件を"
        "すべて満たします (`>=` なので 10000 ちょうども一致)。A は金額が文字列 `\"15000\"` で、"
        "`numeric` は JSON の数値にしか一致しません。B は detail-type が、C は source が違います。"
        "一致しなかったイベントはエラーにならず、どのターゲットにも届かないだけです。",
        hint="キー同士は AND です。source・detail-type・amount の 3 つを、値の型 (数値か文字列か) まで 1 つずつ確かめましょう。",
    ),
    Question(
        "07.q03", "putEvents の部分的な失敗", "レッスン01",
        "`put_events` に 3 件のエントリを渡したところ、HTTP 200 の応答に `FailedEntryCount: 1` が"
        "含まれていた。正しい理解はどれか。",
        {
            "A": "HTTP 200 なので 3 件とも配信された",
            "B": "3 件とも失敗したので、全件を送り直す",
            "C": "1 件だけ失敗した。`ErrorCode` のあるエントリだけを送り直すか、例外にする",
            "D": "失敗したエントリは EventBridge が後で自動的に送り直すので、呼び出し側では何もしなくてよい",
        },
        "C",
        "`put_events` はエントリごとに成否を返します。呼び出し全体が成功 (HTTP 200) でも一部の"
        "エントリが失敗していることがあり、`FailedEntryCount` と各エントリの `ErrorCode` を確認しな"
        "ければ、イベントは黙って失われます。コース本文の `publish_order_event` が "
        "`FailedEntryCount > 0` で `EventPublishError` を送出しているのはこのためです。"
        "失敗したエントリの自動再送はありません (ターゲットへの配信の再試行とは別の話です)。",
        hint="FailedEntryCount は失敗したエントリの件数です。HTTP 200 は呼び出し全体が受け付けられたことしか意味しません。",
    ),
    Question(
        "07.q04", "部分バッチレスポンス", "レッスン02",
        "SQS をイベントソースとする Lambda で `ReportBatchItemFailures` を有効にしている。"
        "10 件のバッチのうち 3 件目だけが処理に失敗し、ハンドラーは "
        "`{'batchItemFailures': [{'itemIdentifier': <3件目の messageId>}]}` を返した。何が起きるか。",
        {
            "A": "3 件目だけが可視性タイムアウトの後に再配信され、他の 9 件は削除される",
            "B": "バッチの中に失敗があったので、10 件すべてが可視性タイムアウトの後に再配信される",
            "C": "3 件目はすぐに DLQ へ移される",
            "D": "10 件すべてが削除され、3 件目は失われる",
        },
        "A",
        "部分バッチレスポンスは「失敗したものだけを再試行へ」という Lambda への指示です。成功した "
        "9 件は削除され、3 件目は可視性タイムアウトの後に再配信されます。DLQ へ移るのは受信回数が "
        "maxReceiveCount に達したときです。ハンドラーが例外を送出するとバッチ全体が"
        "再試行されます。`ReportBatchItemFailures` を有効にしていないと返り値は無視され、正常に"
        "終われば 10 件とも削除されます。コース本文の `{'statusCode': 200}` は SQS イベントソースに"
        "とって意味を持たず、「失敗なし」と同じです。",
        hint="batchItemFailures に載せたメッセージだけが「失敗」です。DLQ へ移すのは誰が、いつでしょう。",
    ),
    Question(
        "07.q05", "DLQ と maxReceiveCount", "レッスン03",
        "RedrivePolicy の `maxReceiveCount` が 3 のキューに、必ず処理に失敗するメッセージ (ポイズン"
        "メッセージ) が 1 通届いた。コンシューマーはこのメッセージを何回受け取るか。",
        {
            "A": "1 回 (処理に失敗した時点で、SQS がすぐに DLQ へ移す)",
            "B": "4 回 (最初の 1 回と、maxReceiveCount の 3 回の再試行)",
            "C": "DLQ がないので無限に受け取る",
            "D": "3 回 (その後の受信のときに SQS が DLQ へ移す)",
        },
        "D",
        "maxReceiveCount は「受信回数」の上限です。3 回受信されて 3 回とも削除されなかったメッセージ"
        "は、次の受信のときに SQS 自身が DLQ へ移します (移すのは Lambda ではなく SQS の "
        "RedrivePolicy)。DLQ に入ったメッセージは自動では再処理されません。DLQ の深さに"
        "アラームを設定し、原因を直してから再投入 (redrive) します。",
        hint="maxReceiveCount が数えるのは「再試行の回数」ではなく「受信された回数」です。",
    ),
    Question(
        "07.q06", "SNS のフィルターポリシー", "レッスン02",
        "ある SQS サブスクリプションのフィルターポリシー (MessageAttributes スコープ) が "
        '`{"event_type": ["OrderCreated"], "priority": ["high"]}` である。メッセージ属性 '
        "`event_type=OrderCreated`, `priority=low` のメッセージを発行すると何が起きるか。",
        {
            "A": "publish がエラーになる",
            "B": "このサブスクリプションには届かない。他のサブスクリプションへの配信には影響しない",
            "C": "event_type が一致するので、このサブスクリプションに届く",
            "D": "届くが、一致しなかった priority 属性は取り除かれる",
        },
        "B",
        "フィルターポリシーのキー同士は AND なので、`priority` が一致しない以上このサブスクリプション"
        "には配信されません。フィルターはサブスクリプションごとに評価され、発行側にはエラーも"
        "通知もありません (届かなかったことは発行側からは見えません)。"
        "本文 (JSON) の内容で絞り込むには `FilterPolicyScope=MessageBody` を指定します。",
        hint="フィルターポリシーのキー同士は AND です。発行側はフィルターの結果を知らされるでしょうか。",
    ),
    Question(
        "07.q07", "スキーマの互換性", "レッスン04",
        "注文イベント v1 を読むコンシューマーが既に稼働している。コンシューマーを更新する前に"
        "プロデューサーだけを新しいスキーマに切り替えたい。安全にできる変更はどれか。",
        {
            "A": "`total_amount` を `amount` に名前変更する",
            "B": "既定値のある任意フィールド `currency: str = \"JPY\"` を追加する",
            "C": "`total_amount` の型を `int` から `str` に変える",
            "D": "`EventType` に `OrderReturned` を追加し、そのイベントを発行し始める",
        },
        "B",
        "プロデューサーを先に更新するには前方互換 (古いコンシューマーが新しいイベントを読める) が"
        "必要です。既定値のある任意フィールドの追加は、古いスキーマが未知のフィールドを拒否しない"
        "限り前方にも後方にも互換です。A の名前変更は「必須フィールドの削除 + 追加」で、"
        "古いコンシューマーは `total_amount` がないと拒否します。C の型変更も古いモデルの検証に"
        "失敗します。D の列挙値の追加は後方互換ですが前方互換ではなく、古いコンシューマーは"
        "知らない `OrderReturned` を拒否します。",
        hint="古いコンシューマーが、新しいスキーマのイベントを検証に通せるか (前方互換) を選択肢ごとに考えましょう。",
    ),
    Question(
        "07.q08", "Saga の補償", "レッスン05",
        "注文 Saga は「在庫を引き当てる → 決済する → 出荷する」の順に進む。在庫の引き当ては成功し、"
        "決済が失敗した。Saga がすべきことはどれか。",
        {
            "A": "全サービスにまたがる分散トランザクションを張っておき、決済の失敗でまとめてロールバックする",
            "B": "決済が成功するまで無期限に再試行する",
            "C": "完了した手順を逆順に補償する。ここでは在庫の引き当てを解除する",
            "D": "出荷まで進め、後で手作業で直す",
        },
        "C",
        "サービスごとにデータベースが分かれていると、全体を 1 つの ACID トランザクションにはできま"
        "せん。Saga は、完了済みの手順を「補償」(意味的な取り消し) で逆順に打ち消します。失敗した"
        "決済そのものは成立していないので返金は要りません。Step Functions では `Catch` から補償の"
        "ステートへ進めます。補償も再試行されうるので、冪等に作ります。一時的な失敗に限った"
        "有限回の `Retry` は有効ですが、無期限の再試行は在庫を押さえ続けます。",
        hint="サービスごとにデータベースが分かれていること、決済は成立していないことに注目しましょう。",
    ),
    Question(
        "07.q09", "CQRS と結果整合性", "レッスン05",
        "注文を `orders` テーブルに書き込んだ直後に、DynamoDB Streams から投影される顧客別サマリー"
        " (読み取りモデル) を読んだところ、その注文がまだ含まれていなかった。理由として正しいものはどれか。",
        {
            "A": "読み取りモデルは非同期に更新される。反映までの遅れは設計上のもの (結果整合性)",
            "B": "書き込みが失敗している",
            "C": "DynamoDB Streams はレコードを取りこぼすことがある",
            "D": "読み取りモデルのテーブルを強い整合性の読み込み (`ConsistentRead`) で読めば必ず含まれる",
        },
        "A",
        "CQRS では書き込みモデルと読み取りモデルを分け、読み取りモデルは変更イベントから非同期に"
        "作ります。投影が終わるまでの短い遅れは設計上の性質で、障害ではありません。DynamoDB "
        "Streams は各変更を項目ごとの順序で 1 回ずつ記録します。`ConsistentRead` は読み取りモデル"
        "のテーブル自身の整合性を強めるだけで、まだ投影されていない注文は含まれません。画面では"
        "「処理中」の表示や、書き込み側の結果を返すなどで遅れを扱います。",
        hint="読み取りモデルは誰が、いつ更新するでしょう。ConsistentRead が効くのはどのテーブルですか。",
    ),
    Question(
        "07.q10", "順序の保証", "レッスン06",
        "注文ごとに OrderCreated → OrderShipped → OrderCancelled の順序で処理したい。"
        "注文は大量にあり、注文同士は並列に処理したい。最適な構成はどれか。",
        {
            "A": "SQS 標準キュー 1 本",
            "B": "SQS FIFO キュー。すべてのメッセージに同じ `MessageGroupId` を付ける",
            "C": "SNS 標準トピック",
            "D": "SQS FIFO キュー。`MessageGroupId` に注文 ID を使う",
        },
        "D",
        "FIFO キューは `MessageGroupId` ごとに順序を守り、グループが違えば並列に処理できます。"
        "注文 ID をグループにすれば、注文の中では順序どおり、注文同士は並列です。B は全体が 1 列に"
        "なり並列性を失います。A の標準キューと C の標準トピックは順序をベストエフォートでしか"
        "扱わず、重複配信もありえます。Kinesis のパーティションキーに注文 ID を使っても、"
        "シャード内の順序として同じことができます。",
        hint="FIFO キューの順序は MessageGroupId ごとです。グループが 1 つしかないと並列性はどうなるでしょう。",
    ),
    Question(
        "07.q11", "冪等なコンシューマー", "レッスン06",
        "SQS 標準キューから決済イベントを受け取り、カードに課金するコンシューマーがある。"
        "同じイベントが 2 回届いても二重に課金しないための方法として正しいものはどれか。",
        {
            "A": "可視性タイムアウトを十分に長くする",
            "B": "処理の前にメッセージを削除する",
            "C": "FIFO キューに替えれば同じメッセージが 2 回届くことはないので、コンシューマー側では何もしなくてよい",
            "D": "イベント ID を条件付き書き込み (`attribute_not_exists`) で記録し、記録済みなら課金しない",
        },
        "D",
        "標準キューは少なくとも 1 回 (at-least-once) の配信で、同じメッセージが 2 回届くことがあります。"
        "二重の副作用を防げるのはコンシューマー自身だけです。イベント ID を条件付き書き込みで記録し、"
        "2 回目は「処理済み」として何もしなければ冪等になります (Powertools の冪等性ユーティリティも同じ考え方です)。A は重複を減らすだけで、"
        "SQS 自身の重複や処理後・削除前のクラッシュは防げません。B は処理中に落ちるとメッセージを"
        "失います (at-most-once)。C の FIFO の重複排除は送信側の 5 分間の重複だけで、処理後・削除前に"
        "失敗すれば再配信されます。",
        hint="重複を「減らす」のではなく、2 回目を「何もしない」にできるのは誰でしょう。",
    ),
    Question(
        "07.q12", "リプレイ", "レッスン06",
        "新しく作った分析サービスに、過去 24 時間分のイベントを最初から読ませたい。"
        "イベントを受け取る時点で選んでおくべきものはどれか。",
        {
            "A": "Kinesis Data Streams",
            "B": "SQS 標準キュー (メッセージ保持期間を最大の 14 日にしておく)",
            "C": "SQS FIFO キュー",
            "D": "SNS トピック",
        },
        "A",
        "Kinesis はレコードを保持期間 (既定 24 時間) のあいだ残し、どのコンシューマーも "
        "`TRIM_HORIZON` から何度でも読み直せます。SQS のメッセージは処理して削除すれば消え、"
        "保持期間を延ばしても、新しいコンシューマーが既に処理・削除されたメッセージを読み直すことはできません。"
        "SNS は配信したら何も残しません。EventBridge ならアーカイブを作っておけば "
        "`start_replay` でリプレイできます。",
        hint="処理した後もイベントが残っていて、新しいコンシューマーが最初から読み直せるのはどれでしょう。",
    ),
]

BY_ID = {q.id: q for q in QUESTIONS}


def question(id: str) -> Question:
    if id not in BY_ID:
        raise KeyError(f"問題 {id!r} はありません。{QUESTIONS[0].id}〜{QUESTIONS[-1].id} のいずれかです")
    return BY_ID[id]


def chosen(candidate: Any) -> Any:
    """The learner's choice: call their function (or take the value itself)."""
    return candidate() if callable(candidate) else candidate


def normalised(q: Question, value: Any) -> str:
    """``" b "`` -> ``"B"``; anything else is a CheckFailed with a reason the learner can act on."""
    letters = "・".join(q.choices)
    if value is None:
        raise checks.CheckFailed(f"答えが返されていません (None)。{letters} のいずれかを文字列で return してください")
    if not isinstance(value, str):
        raise checks.CheckFailed(
            f"答えは文字列で返してください ({letters} のいずれか)。返り値: {value!r} ({type(value).__name__})"
        )
    letter = value.strip().rstrip(".").upper()
    if letter not in q.choices:
        raise checks.CheckFailed(f"{value!r} は選択肢にありません。{letters} のいずれかを返してください")
    return letter


def run_check(q: Question, candidate: Any) -> None:
    """The exercise check of question ``q``: raises CheckFailed unless the answer is right."""
    letter = normalised(q, chosen(candidate))
    checks.expect(letter == q.answer, f"選んだ答えは {letter} です。正解ではありません")


def returning(value):
    """An answer function that returns ``value`` (a reference or a known-wrong answer)."""

    def answer():
        return value

    answer.__name__ = answer.__qualname__ = f"returns_{value!r}"
    return answer


def _register(q: Question) -> None:
    wrong = [returning(letter) for letter in q.choices if letter != q.answer]
    wrong += [returning(None), returning(2), returning("E")]
    exercise(q.id, f"問題 {q.id.rsplit('q', 1)[-1]}: {q.topic}",
             reference=returning(q.answer), wrong=tuple(wrong))(partial(run_check, q))


for _question in QUESTIONS:
    _register(_question)
