"""Lesson 08 (本番へ): template.yaml. Checks for a DLQ, a least-privilege policy and a partial batch response.

Each exercise returns a piece of the SAM template as Python data (what the YAML reads as).
The checks transform it with aws-sam-translator, as ``sam deploy`` would, and where it
matters build it in the sandbox and run it.
"""
from __future__ import annotations

import copy
import fnmatch
import json

from labs import sandbox
from labs.sandbox import template
from labs.workbook.checks import exercise, expect, uses

DLQ_RETENTION = 1_209_600  # 14 days, the most SQS keeps a message
SOURCE_RETENTION = 345_600  # 4 days, SQS's default
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sqs-queue.html
# ("Ref returns the queue URL"; Fn::GetAtt Arn returns the ARN): RedrivePolicy needs the ARN.


def _template(resources: dict) -> dict:
    return {"AWSTemplateFormatVersion": "2010-09-09", "Transform": "AWS::Serverless-2016-10-31",
            "Resources": resources}


def _renamed(resources: dict, prefix: str) -> dict:
    """The candidate's resources with every physical name prefixed: a check never touches the lesson's."""
    out = copy.deepcopy(resources)
    for resource in out.values():
        props = resource.get("Properties", {})
        for key in ("QueueName", "TableName", "TopicName", "FunctionName"):
            if isinstance(props.get(key), str):
                props[key] = prefix + props[key]
    return out


def _is_arn_of(value, logical: str) -> bool:
    return value in ({"Fn::GetAtt": [logical, "Arn"]}, {"Fn::GetAtt": f"{logical}.Arn"})


# --- 10.points_queue_with_dlq ---------------------------------------------------------------

def points_queue_with_dlq() -> dict:
    """Reference: the points queue and its DLQ, as template.yaml declares them."""
    return {
        "PointsQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": "points-queue", "VisibilityTimeout": 30,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["PointsDlq", "Arn"]}, "maxReceiveCount": 3}}},
        "PointsDlq": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": "points-dlq", "MessageRetentionPeriod": DLQ_RETENTION}},
    }


def _dlq_by_ref():
    resources = points_queue_with_dlq()
    resources["PointsQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] = {"Ref": "PointsDlq"}
    return resources


def _dlq_kept_four_days():
    resources = points_queue_with_dlq()
    del resources["PointsDlq"]["Properties"]["MessageRetentionPeriod"]
    return resources


def _no_redrive_policy():
    resources = points_queue_with_dlq()
    del resources["PointsQueue"]["Properties"]["RedrivePolicy"]
    return resources


@exercise("10.points_queue_with_dlq", "テンプレートの DLQ: points-queue に RedrivePolicy と 14 日保持の points-dlq",
          reference=points_queue_with_dlq, wrong=(_dlq_by_ref, _dlq_kept_four_days, _no_redrive_policy),
          hints=("DLQ は元のキューの設定 (RedrivePolicy) で指します。DLQ の側には、メッセージを調べる時間が要ります: "
                 "有効期限は元のキューに入った時刻から数えます。",
                 "PointsQueue の Properties に RedrivePolicy: {\"deadLetterTargetArn\": {\"Fn::GetAtt\": [\"PointsDlq\", \"Arn\"]}, "
                 "\"maxReceiveCount\": 3}、PointsDlq に MessageRetentionPeriod: 1209600 (14 日) です (!Ref はキューの URL を返します)。"))
def _(candidate):
    uses("サンドボックスでの試し方", "テンプレートから作った points-queue に 1 通送り、4 回受信して DLQ に移るかを見る")
    resources = candidate()
    expect(isinstance(resources, dict) and {"PointsQueue", "PointsDlq"} <= set(resources),
           f"PointsQueue と PointsDlq の 2 つのリソースを返してください (返り値のキー: {list(resources or {})})")
    queue, dlq = (resources[k].get("Properties", {}) for k in ("PointsQueue", "PointsDlq"))
    expect((queue.get("QueueName"), dlq.get("QueueName")) == ("points-queue", "points-dlq"),
           "QueueName はレッスンと同じ points-queue / points-dlq にしてください")
    policy = queue.get("RedrivePolicy")
    expect(isinstance(policy, dict), "PointsQueue に RedrivePolicy がありません")
    target = policy.get("deadLetterTargetArn")
    expect(target != {"Ref": "PointsDlq"},
           "!Ref PointsDlq はキューの URL を返します。deadLetterTargetArn には ARN (!GetAtt PointsDlq.Arn) を書きます")
    expect(_is_arn_of(target, "PointsDlq"), f"deadLetterTargetArn は !GetAtt PointsDlq.Arn です (書かれた値: {target!r})")
    expect(policy.get("maxReceiveCount") == 3, f"maxReceiveCount は 3 です (書かれた値: {policy.get('maxReceiveCount')!r})")
    retention = int(dlq.get("MessageRetentionPeriod", SOURCE_RETENTION))
    expect(retention > int(queue.get("MessageRetentionPeriod", SOURCE_RETENTION)),
           f"DLQ の MessageRetentionPeriod は元のキューより長く (14 日 = {DLQ_RETENTION} 秒) します。"
           f"有効期限は元のキューに入った時刻から数えるので、同じ長さでは DLQ で調べる前に消えます (書かれた値: {retention})")
    # And it behaves: built in the sandbox, a message received 3 times goes to the DLQ.
    stack = template.build(_template(_renamed(resources, "check-08-")))
    sqs, url, dlq_url = sandbox.client("sqs"), stack.ref("PointsQueue"), stack.ref("PointsDlq")
    try:
        sqs.send_message(QueueUrl=url, MessageBody="poison")
        for _ in range(4):  # the 4th receive finds it gone to the DLQ
            sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)
        moved = sqs.receive_message(QueueUrl=dlq_url).get("Messages", [])
        expect([m["Body"] for m in moved] == ["poison"], "テンプレートから作ったキューで、3 回受信したメッセージが DLQ に移りませんでした")
    finally:
        for queue_url in (url, dlq_url):
            sqs.delete_queue(QueueUrl=queue_url)


# --- 10.dlq_handler_policies ----------------------------------------------------------------

# What labs.course.consumers.dlq calls, and on what (logical id of the resource).
DLQ_HANDLER_NEEDS = [("dynamodb:PutItem", "FailedMessagesTable"), ("dynamodb:GetItem", "FailedMessagesTable"),
                     ("dynamodb:UpdateItem", "FailedMessagesTable"), ("sns:Publish", "AlertsTopic")]
_POLICY_RESOURCES = {
    "FailedMessagesTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": "failed-messages", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "message_id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "message_id", "KeyType": "HASH"}]}},
    "AlertsTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}},
}
_ARNS = {"FailedMessagesTable": "arn:aws:dynamodb:ap-northeast-1:123456789012:table/failed-messages",
         "AlertsTopic": "arn:aws:sns:ap-northeast-1:123456789012:alerts"}


def dlq_handler_policies() -> list:
    """Reference: SAM policy templates, each naming one resource."""
    return [{"DynamoDBCrudPolicy": {"TableName": {"Ref": "FailedMessagesTable"}}},
            {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["AlertsTopic", "TopicName"]}}}]


def _everything():
    return [{"Statement": [{"Effect": "Allow", "Action": ["dynamodb:*", "sns:*"], "Resource": "*"}]}]


def _full_access_managed_policies():
    return ["arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess", "arn:aws:iam::aws:policy/AmazonSNSFullAccess"]


def _forgets_the_alert():
    return [{"DynamoDBCrudPolicy": {"TableName": {"Ref": "FailedMessagesTable"}}}]


def _statements(policies) -> list[dict]:
    """The role's statements after SAM's transform, with table and topic names resolved."""
    resources = {**_POLICY_RESOURCES, "DlqHandlerFunction": {"Type": "AWS::Serverless::Function", "Properties": {
        "FunctionName": "dlq-handler", "Handler": "labs.course.consumers.dlq.lambda_handler",
        "Runtime": "python3.12", "CodeUri": "build/lambda/", "Policies": policies}}}
    try:
        role = template.transform(_template(resources))["Resources"]["DlqHandlerFunctionRole"]["Properties"]
    except template.TemplateError as error:
        raise AssertionError(f"SAM が変換できません: {error}") from None
    managed = [arn for arn in role.get("ManagedPolicyArns", []) if "FullAccess" in str(arn) or "Administrator" in str(arn)]
    expect(not managed, f"マネージドポリシー {managed} は、すべてのテーブル / トピックへのすべての操作を許します")
    text = json.dumps([p["PolicyDocument"] for p in role.get("Policies", [])])
    for logical, props in _POLICY_RESOURCES.items():  # Ref and GetAtt of the two resources, as AWS resolves them
        name = props["Properties"].get("TableName") or props["Properties"]["TopicName"]
        text = text.replace(json.dumps({"Ref": logical}), json.dumps(name if "Table" in logical else _ARNS[logical]))
        text = text.replace(json.dumps({"Fn::GetAtt": [logical, "TopicName"]}), json.dumps(name))
    documents = json.loads(text)
    out = []
    for document in documents:
        for statement in document.get("Statement", []):
            statement = dict(statement)
            for key in ("Action", "Resource"):
                value = statement.get(key, [])
                statement[key] = [_sub(v) for v in (value if isinstance(value, list) else [value])]
            out.append(statement)
    return out


def _sub(value):
    """Fn::Sub as the policy templates write it (region, account, partition and one variable)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        text, variables = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], {})
        variables = {**variables, "AWS::Partition": "aws", "AWS::Region": "ap-northeast-1", "AWS::AccountId": "123456789012"}
        for name, replacement in variables.items():
            text = text.replace("${" + name + "}", str(replacement))
        return text
    return value


@exercise("10.dlq_handler_policies", "最小権限: dlq-handler は failed-messages の読み書きと alerts への発行だけ",
          reference=dlq_handler_policies, wrong=(_everything, _full_access_managed_policies, _forgets_the_alert),
          hints=("dlq.py が実際に呼ぶ操作を数えます: failed-messages テーブルの書き込みと読み取り、alerts トピックへの発行。"
                 "それ以外のテーブルやトピック、それ以外の操作は許しません (* は使いません)。",
                 "SAM のポリシーテンプレートで書けます: {\"DynamoDBCrudPolicy\": {\"TableName\": {\"Ref\": ...}}} と "
                 "{\"SNSPublishMessagePolicy\": {\"TopicName\": {\"Fn::GetAtt\": [..., \"TopicName\"]}}}。"))
def _(candidate):
    uses("dlq-handler が呼ぶ操作", [f"{action} on {logical}" for action, logical in DLQ_HANDLER_NEEDS])
    policies = candidate()
    expect(isinstance(policies, list) and policies, "Policies に書くリスト (1 つ以上) を返してください")
    statements = [s for s in _statements(policies) if s.get("Effect") == "Allow"]
    for s in statements:
        broad = [a for a in s["Action"] if a == "*" or str(a).endswith(":*")]
        expect(not broad, f"Action {broad} はそのサービスのすべての操作です。必要な操作だけにしてください")
        expect("*" not in s["Resource"], "Resource: '*' はアカウントのすべてのリソースです。テーブルとトピックを名指ししてください")
    for action, logical in DLQ_HANDLER_NEEDS:
        allowed = any(any(fnmatch.fnmatchcase(action, a) for a in s["Action"])
                      and any(fnmatch.fnmatchcase(_ARNS[logical], r) for r in s["Resource"]) for s in statements)
        expect(allowed, f"{action} が {_ARNS[logical].rsplit(':', 1)[-1]} に許可されていません "
                        "(dlq.py が呼ぶ操作です: これでは本番で AccessDenied になります)")


# --- 10.inventory_events ----------------------------------------------------------------------
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html ("To let your function
# report specific failures in a batch, include the value ReportBatchItemFailures in FunctionResponseTypes")
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html (without it, a batch that
# returns normally is deleted whole)

def inventory_events() -> dict:
    """Reference: the inventory function's SQS event, with partial batch responses on."""
    return {"Orders": {"Type": "SQS", "Properties": {
        "Queue": {"Fn::GetAtt": ["InventoryQueue", "Arn"]}, "BatchSize": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"]}}}


def _no_partial_batch():
    return {"Orders": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["InventoryQueue", "Arn"]}, "BatchSize": 10}}}


def _response_type_as_flag():
    return {"Orders": {"Type": "SQS", "Properties": {
        "Queue": {"Fn::GetAtt": ["InventoryQueue", "Arn"]}, "BatchSize": 10, "ReportBatchItemFailures": True}}}


def _batch_of_one_without_reporting():
    return {"Orders": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["InventoryQueue", "Arn"]}, "BatchSize": 1}}}


@exercise("10.inventory_events", "部分バッチレスポンス: FunctionResponseTypes に ReportBatchItemFailures",
          reference=inventory_events, wrong=(_no_partial_batch, _response_type_as_flag, _batch_of_one_without_reporting),
          hints=("ハンドラーが batchItemFailures を返しても、イベントソースマッピングの設定で有効にしないと Lambda は読みません。"
                 "そのときバッチは丸ごと成功扱いで削除され、失敗した 1 件は黙って消えます。",
                 "{\"Orders\": {\"Type\": \"SQS\", \"Properties\": {\"Queue\": {\"Fn::GetAtt\": [\"InventoryQueue\", \"Arn\"]}, "
                 "\"BatchSize\": 10, \"FunctionResponseTypes\": [\"ReportBatchItemFailures\"]}}} です。"))
def _(candidate):
    from labs.runtime import LocalRuntime  # the workbook layer may use the runtime

    uses("キューに送るメッセージ", "正しい OrderCreated 4 件 (ORD-C0..C3) と、event_type を綴り間違えた 1 件 (ORD-CX)")

    events = candidate()
    expect(isinstance(events, dict) and events, "Events に書く辞書 ({'Orders': {...}}) を返してください")
    resources = {
        "InventoryQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "inventory-queue", "VisibilityTimeout": 30}},
        "InventoryFunction": {"Type": "AWS::Serverless::Function", "Properties": {
            "FunctionName": "inventory", "Handler": "labs.course.consumers.sqs.lambda_handler", "Runtime": "python3.12",
            "CodeUri": "build/lambda/", "Timeout": 5, "Events": events}},
    }
    try:
        stack = template.build(_template(_renamed(resources, "check-08-")))
    except (template.TemplateError, ValueError) as error:
        raise AssertionError(f"テンプレートとして変換できません: {error}") from None
    sqs, url = sandbox.client("sqs"), stack.ref("InventoryQueue")
    try:
        good = [json.dumps({"event_type": "OrderCreated", "order": {"order_id": f"ORD-C{i}"}}) for i in range(4)]
        poison = json.dumps({"event_type": "OrderCreatd", "order": {"order_id": "ORD-CX"}})
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(good + [poison])])
        runtime = LocalRuntime()
        template.wire(runtime, stack)
        expect(runtime.sources, "SQS のイベントソースマッピングができませんでした (Type: SQS と Queue を確かめてください)")
        while runtime.deliver_due():  # one pass over every batch; retries wait out the visibility timeout
            pass
        left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
        retried = int(left["Attributes"]["ApproximateNumberOfMessagesNotVisible"])
        batch_size = stack.wirings[0].settings.get("BatchSize", 10)
    finally:
        sqs.delete_queue(QueueUrl=url)
    expect(retried == 1, f"失敗した 1 件だけが再試行に回るはずが {retried} 件でした"
                         + (" (報告が無視されて、失敗した 1 件もバッチごと削除されました: 黙って消えています)" if retried == 0 else ""))
    expect(batch_size == 10, f"BatchSize は 10 です (書かれた値: {batch_size!r})")
