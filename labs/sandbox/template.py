"""The sandbox built from ``template.yaml``: one description of the system, locally and on AWS.

``build()`` reads the SAM template, transforms it to plain CloudFormation with
aws-sam-translator (offline: no credentials, no network, as ``sam validate --lint`` cannot),
and creates each resource in the sandbox with the same name and settings. ``wire(runtime,
stack)`` then connects every function to its events in the local runtime, as the template
says: SQS and DynamoDB Streams event source mappings, EventBridge rules, SNS subscriptions,
schedules. Whatever the sandbox or the runtime cannot do yet is not silently dropped: it is
listed, in Japanese, in ``stack.skipped``.

    stack = template.build()           # idempotent: run it again after editing the template
    runtime = LocalRuntime()
    template.wire(runtime, stack)      # takes the runtime it is given (this layer never imports it)
"""
from __future__ import annotations

import copy
import importlib
import inspect
import json
import re
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import boto3

from labs import sandbox
from labs.sandbox import provision

# At the root of a checkout (or an editable install); `pip install .` puts it under share/ (pyproject's data-files).
TEMPLATE = next((path for path in (Path(__file__).resolve().parents[2] / "template.yaml",
                                   Path(sysconfig.get_path("data"), "share", "event-driven-workbook", "template.yaml"))
                 if path.exists()), Path(__file__).resolve().parents[2] / "template.yaml")
PACKAGED_CODE = "s3://labs-packaged-code/lambda.zip"  # what `sam package` would put in CodeUri

_SKIPPED_TYPES = {  # what the sandbox does not create, and why (shown to the learner)
    "AWS::IAM::Role": "IAM ロール: moto のサンドボックスは権限を確かめないので作りません (本番では最小権限が効きます)",
    "AWS::Lambda::Function": "Lambda 関数: コードはローカルランタイムが動かします (wire で配線)",
    "AWS::Lambda::Permission": "Lambda の呼び出し許可: ローカルランタイムには不要です",
    "AWS::Lambda::EventInvokeConfig": None,  # read by wire(), reported there
    "AWS::Lambda::EventSourceMapping": None,  # wired by wire()
}


class TemplateError(ValueError):
    """The template cannot be read or built; the message says where (Japanese, English beside)."""


# --- reading -----------------------------------------------------------------------------

def load(path: Path | str = TEMPLATE) -> dict:
    """The SAM template as a dict (short tags such as ``!GetAtt`` read as AWS reads them)."""
    from samtranslator.yaml_helper import yaml_parse

    try:
        return yaml_parse(Path(path).read_text(encoding="utf-8"))
    except Exception as error:  # a YAML error names the line; say which file
        raise TemplateError(f"テンプレート {path} を読めません / cannot read the template: {error}") from error


def lines_of(logical_id: str, path: Path | str = TEMPLATE) -> tuple[int, int]:
    """The first and last line (1-based) of a resource's block in the template file."""
    text = Path(path).read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(text) if line == f"  {logical_id}:" or line.startswith(f"  {logical_id}:  ")), None)
    if start is None:
        raise TemplateError(f"リソース {logical_id} はテンプレートにありません / no resource {logical_id}")
    end = start + 1
    while end < len(text) and (not text[end].strip() or text[end].startswith("    ")):
        end += 1
    while not text[end - 1].strip():
        end -= 1
    return start + 1, end


def excerpt(*logical_ids: str, path: Path | str = TEMPLATE) -> str:
    """Those resources' blocks of the template, with line numbers (to read beside a lesson)."""
    text = Path(path).read_text(encoding="utf-8").splitlines()
    blocks = []
    for logical_id in logical_ids:
        first, last = lines_of(logical_id, path)
        blocks.append("\n".join(f"{n:4d}  {text[n - 1]}" for n in range(first, last + 1)))
    return "\n\n".join(blocks)


def transform(sam: dict, region: str | None = None) -> dict:
    """SAM -> CloudFormation with aws-sam-translator, offline.

    Local ``CodeUri`` paths are replaced by an S3 URI first, as ``sam package`` does; AWS
    managed policies are named by ARN, so no IAM lookup is needed (one would raise).
    """
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam = copy.deepcopy(sam)
    for section in [sam.get("Globals", {}).get("Function", {})] + [
            r.get("Properties", {}) for r in sam.get("Resources", {}).values()
            if r.get("Type") == "AWS::Serverless::Function"]:
        if isinstance(section.get("CodeUri"), str) and not section["CodeUri"].startswith("s3://"):
            section["CodeUri"] = PACKAGED_CODE

    def no_lookup():
        raise TemplateError("マネージドポリシーは ARN で書いてください (名前だと IAM に問い合わせが必要です) / "
                            "name managed policies by ARN: a name needs an IAM lookup")

    session = boto3.session.Session(region_name=region or sandbox.REGION)  # no credentials needed
    translator = Translator(None, Parser(), boto_session=session)
    try:
        return translator.translate(sam, {}, get_managed_policy_map=no_lookup)
    except InvalidDocumentException as error:
        causes = "; ".join(str(cause) for cause in error.causes)
        raise TemplateError(f"SAM の変換に失敗しました / SAM transform failed: {causes}") from error
    finally:
        translator.metrics.publish()  # to its dummy publisher: nothing is sent, and nothing warns


# --- building ----------------------------------------------------------------------------

@dataclass
class Wiring:
    """One function's event, as the runtime should connect it."""

    kind: str  # sqs | stream | rule | topic | schedule | forward
    function: str  # the function's name (FunctionName)
    handler: str  # module.attribute, as Handler says
    source: str  # queue URL, table name, "bus/rule" or topic ARN
    settings: dict = field(default_factory=dict)


@dataclass
class Stack:
    """What build() made: physical names by logical id, the wirings, and what it skipped."""

    cfn: dict
    physical: dict[str, dict] = field(default_factory=dict)  # logical id -> {"Ref": ..., "Arn": ...}
    wirings: list[Wiring] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def ref(self, logical_id: str) -> str:
        return self.physical[logical_id]["Ref"]

    def functions(self) -> dict[str, dict]:
        """Lambda functions by name: their handler, timeout and environment."""
        out = {}
        for resource in self.cfn["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function":
                props = resource["Properties"]
                out[props["FunctionName"]] = {"handler": props["Handler"], "timeout": props.get("Timeout", 3),
                                              "environment": props.get("Environment", {}).get("Variables", {})}
        return out

    def summary(self) -> list[dict]:
        """One row per resource: logical id, type, and the name it has in the sandbox."""
        rows = []
        for logical, resource in self.cfn["Resources"].items():
            made = self.physical.get(logical, {})
            name = made.get("Name") or made.get("Ref", "")
            rows.append({"論理 ID": logical, "種類": resource["Type"],
                         "サンドボックスでの名前": str(name).rsplit("/", 1)[-1].rsplit(":", 1)[-1] if made else "(作りません)"})
        return rows


def build(template: dict | Path | str = TEMPLATE, parameters: dict | None = None) -> Stack:
    """Create every resource of the template in the sandbox (again: converge). Returns the Stack."""
    sam = template if isinstance(template, dict) else load(template)
    stack = Stack(transform(sam))
    _Builder(stack, parameters or {}).run()
    return stack


class _Builder:
    def __init__(self, stack: Stack, parameters: dict):
        self.stack = stack
        self.resources = stack.cfn["Resources"]
        box = sandbox.current()
        self.region, self.account = box.region, sandbox.ACCOUNT_ID
        self.parameters = {name: parameters.get(name, spec.get("Default", ""))
                           for name, spec in stack.cfn.get("Parameters", {}).items()}
        self.parameters.update({"AWS::Region": self.region, "AWS::AccountId": self.account,
                                "AWS::Partition": "aws", "AWS::StackName": "labs", "AWS::URLSuffix": "amazonaws.com"})
        self._making: set[str] = set()

    def run(self) -> None:
        for logical in self.resources:
            self.make(logical)

    # -- resources, made on first use (a reference makes what it refers to first) ------------
    def make(self, logical: str) -> dict:
        if logical in self.stack.physical:
            return self.stack.physical[logical]
        if logical not in self.resources:
            raise TemplateError(f"参照先のリソース {logical} がテンプレートにありません / no resource {logical}")
        if logical in self._making:
            raise TemplateError(f"リソース {logical} の参照が循環しています / circular reference at {logical}")
        resource = self.resources[logical]
        if "Condition" in resource and not self.condition(resource["Condition"]):
            self.stack.physical[logical] = {"Ref": ""}
            self.stack.skipped.append(f"{logical}: 条件 {resource['Condition']} が偽なので作りません")
            return self.stack.physical[logical]
        self._making.add(logical)
        try:
            props = resource.get("Properties", {})
            maker = _MAKERS.get(resource["Type"])
            if maker is None:
                reason = _SKIPPED_TYPES.get(resource["Type"], f"{resource['Type']} はサンドボックスでは未対応です")
                if reason:
                    self.stack.skipped.append(f"{logical}: {reason}")
                made = self.placeholder(logical, resource)
            else:
                made = maker(self, logical, props)
        finally:
            self._making.discard(logical)
        self.stack.physical[logical] = made
        return made

    def placeholder(self, logical: str, resource: dict) -> dict:
        """Names for what is not created, so references to it still resolve."""
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function":
            name = props.get("FunctionName", logical)
            return {"Ref": name, "Arn": f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"}
        if resource["Type"] == "AWS::IAM::Role":
            return {"Ref": logical, "Arn": f"arn:aws:iam::{self.account}:role/{logical}"}
        return {"Ref": logical}

    # -- intrinsic functions ------------------------------------------------------------------
    def value(self, node: Any) -> Any:
        """Resolve Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If, ... inside ``node``."""
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.parameters[arg] if arg in self.parameters else self.make(arg)["Ref"]
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                made = self.make(logical)
                if attribute not in made:
                    raise TemplateError(f"{logical} の属性 {attribute} はサンドボックスでは未対応です / "
                                        f"unsupported attribute {logical}.{attribute}")
                return made[attribute]
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self._sub(m.group(1), variables)), text)
            if key == "Fn::Join":
                return arg[0].join(str(v) for v in self.value(arg[1]))
            if key == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if key.startswith("Fn::"):
                raise TemplateError(f"組み込み関数 {key} はサンドボックスでは未対応です / unsupported {key}")
        return {k: self.value(v) for k, v in node.items()}

    def _sub(self, name: str, variables: dict):
        if name in variables:
            return variables[name]
        if name in self.parameters:
            return self.parameters[name]
        logical, _, attribute = name.partition(".")
        return self.value({"Fn::GetAtt": [logical, attribute]} if attribute else {"Ref": logical})

    def condition(self, name_or_expression) -> bool:
        expression = (self.stack.cfn.get("Conditions", {})[name_or_expression]
                      if isinstance(name_or_expression, str) else name_or_expression)
        (key, arg), = expression.items()
        if key == "Fn::Equals":
            return self.value(arg[0]) == self.value(arg[1])
        if key == "Fn::Not":
            return not self.condition(arg[0])
        if key == "Fn::And":
            return all(self.condition(a) for a in arg)
        if key == "Fn::Or":
            return any(self.condition(a) for a in arg)
        if key == "Condition":
            return self.condition(arg)
        raise TemplateError(f"条件 {key} はサンドボックスでは未対応です / unsupported condition {key}")

    # -- the resource types -------------------------------------------------------------------
    def table(self, logical, props):
        props = self.value(props)
        types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
        keys = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
        if any(types[k] != "S" for k in keys.values()):
            raise TemplateError(f"{logical}: サンドボックスのテーブルのキーは文字列 (S) だけです / string keys only")
        stream = props.get("StreamSpecification", {}).get("StreamViewType")
        name = props["TableName"]
        arn = provision.ensure_table(name, keys["HASH"], sort_key=keys.get("RANGE"), stream=stream)
        made = {"Ref": name, "Arn": arn}
        if stream:
            made["StreamArn"] = sandbox.client("dynamodb").describe_table(TableName=name)["Table"]["LatestStreamArn"]
        return made

    def queue(self, logical, props):
        props = self.value(props)
        name = props.get("QueueName", logical)
        attributes = {k: (json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else str(v))
                      for k, v in props.items() if k not in ("QueueName", "Tags")}
        url = provision.ensure_queue(name, visibility_timeout=int(props.get("VisibilityTimeout", 30)),
                                     fifo=name.endswith(".fifo"), attributes=attributes)
        return {"Ref": url, "Arn": provision.queue_arn(url), "QueueName": name}

    def topic(self, logical, props):
        props = self.value(props)
        name = props.get("TopicName", logical)
        arn = provision.ensure_topic(name, fifo=bool(props.get("FifoTopic")))
        return {"Ref": arn, "TopicArn": arn, "TopicName": name}

    def subscription(self, logical, props):
        props = self.value(props)
        if props["Protocol"] != "sqs":
            self.stack.skipped.append(f"{logical}: {props['Protocol']} のサブスクリプションはサンドボックスでは作りません "
                                      f"(宛先 {props.get('Endpoint')})")
            return {"Ref": ""}
        queue_url = sandbox.client("sqs").get_queue_url(QueueName=props["Endpoint"].rsplit(":", 1)[-1])["QueueUrl"]
        policy = props.get("FilterPolicy")
        arn = provision.ensure_subscription(
            props["TopicArn"], queue_url, raw=str(props.get("RawMessageDelivery", "false")).lower() == "true",
            filter_policy=json.loads(policy) if isinstance(policy, str) else policy,
            filter_on_body=props.get("FilterPolicyScope") == "MessageBody")
        return {"Ref": arn}

    def queue_policy(self, logical, props):
        props = self.value(props)
        document = json.dumps(props["PolicyDocument"])
        for url in props["Queues"]:
            sandbox.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": document})
        return {"Ref": logical}

    def topic_policy(self, logical, props):
        props = self.value(props)
        for arn in props["Topics"]:
            sandbox.client("sns").set_topic_attributes(TopicArn=arn, AttributeName="Policy",
                                                       AttributeValue=json.dumps(props["PolicyDocument"]))
        return {"Ref": logical}

    def bus(self, logical, props):
        name = self.value(props)["Name"]
        return {"Ref": name, "Name": name, "Arn": provision.ensure_bus(name)}

    def archive(self, logical, props):
        props = self.value(props)
        events, name = sandbox.client("events"), props["ArchiveName"]
        try:
            arn = events.describe_archive(ArchiveName=name)["ArchiveArn"]
        except events.exceptions.ResourceNotFoundException:
            kwargs = {k: props[k] for k in ("EventPattern", "RetentionDays", "Description") if k in props}
            if "EventPattern" in kwargs:
                kwargs["EventPattern"] = json.dumps(kwargs["EventPattern"])
            arn = events.create_archive(ArchiveName=name, EventSourceArn=props["SourceArn"], **kwargs)["ArchiveArn"]
        return {"Ref": name, "Arn": arn}

    def rule(self, logical, props):
        props = self.value(props)
        bus, name = props.get("EventBusName", "default"), props.get("Name", logical)
        kwargs = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if "EventPattern" in props:
            kwargs["EventPattern"] = json.dumps(props["EventPattern"])
        if "ScheduleExpression" in props:
            kwargs["ScheduleExpression"] = props["ScheduleExpression"]
        events = sandbox.client("events")
        arn = events.put_rule(**kwargs)["RuleArn"]
        for target in props.get("Targets", []):
            service = target["Arn"].split(":")[2]
            if service == "lambda":
                self._lambda_target(bus, name, target, schedule="ScheduleExpression" in props)
            elif service == "sqs":
                events.put_targets(Rule=name, EventBusName=bus, Targets=[target])
            elif service == "sns":
                self._forward_to_topic(bus, name, arn, target)
            else:
                self.stack.skipped.append(f"ルール {name}: ターゲット {target['Arn']} はサンドボックスでは未対応です")
        return {"Ref": name if bus == "default" else f"{bus}|{name}", "Arn": arn}

    def _lambda_target(self, bus: str, rule: str, target: dict, schedule: bool) -> None:
        function = target["Arn"].rsplit(":", 1)[-1]
        settings = {k: target[k] for k in ("RetryPolicy", "DeadLetterConfig", "Input", "InputPath",
                                           "InputTransformer") if k in target}
        self.stack.wirings.append(Wiring("schedule" if schedule else "rule", function, self._handler(function),
                                         f"{bus}/{rule}", settings))

    def _forward_to_topic(self, bus: str, rule: str, rule_arn: str, target: dict) -> None:
        """EventBridge -> SNS: moto cannot deliver it, so a queue and the runtime carry it.

        The rule targets a stand-in queue (moto applies the InputTransformer on the way in);
        the runtime's ``forward`` wiring publishes each message to the topic. The target's
        DeadLetterConfig becomes the stand-in queue's RedrivePolicy.
        """
        topic = target["Arn"]
        attributes = {}
        if "DeadLetterConfig" in target:
            retries = target.get("RetryPolicy", {}).get("MaximumRetryAttempts", 185)
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": target["DeadLetterConfig"]["Arn"],
                                                      "maxReceiveCount": min(retries + 1, 1000)})
        queue_name = re.sub(r"[^A-Za-z0-9_-]", "-", f"events-{rule}-to-{topic.rsplit(':', 1)[-1]}")[:80]
        url = provision.ensure_queue(queue_name, attributes=attributes)
        moved = {k: target[k] for k in ("Input", "InputPath", "InputTransformer") if k in target}
        provision.allow_send(url, rule_arn, "events")
        sandbox.client("events").put_targets(Rule=rule, EventBusName=bus, Targets=[
            {"Id": target["Id"], "Arn": provision.queue_arn(url), **moved}])
        self.stack.wirings.append(Wiring("forward", f"{rule} → {topic.rsplit(':', 1)[-1]}", "", url, {"topic": topic}))

    def state_machine(self, logical, props):
        props = self.value(props)
        body = props.get("DefinitionString") or json.dumps(props["Definition"], ensure_ascii=False)
        for name, value in props.get("DefinitionSubstitutions", {}).items():
            body = body.replace("${" + name + "}", str(value))
        name = props.get("StateMachineName", logical)
        sfn = sandbox.client("stepfunctions")
        existing = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == name]
        if existing:
            sfn.update_state_machine(stateMachineArn=existing[0], definition=body, roleArn=props["RoleArn"])
            arn = existing[0]
        else:
            arn = sfn.create_state_machine(name=name, definition=body, roleArn=props["RoleArn"])["stateMachineArn"]
        return {"Ref": arn, "Arn": arn, "Name": name}

    def event_source_mapping(self, logical, props):
        props = self.value(props)
        function = props["FunctionName"]
        source = props["EventSourceArn"]
        settings = {k: v for k, v in props.items() if k not in ("FunctionName", "EventSourceArn")}
        if ":sqs:" in source:
            url = sandbox.client("sqs").get_queue_url(QueueName=source.rsplit(":", 1)[-1])["QueueUrl"]
            self.stack.wirings.append(Wiring("sqs", function, self._handler(function), url, settings))
        elif ":dynamodb:" in source:
            table = source.split(":table/", 1)[1].split("/", 1)[0]
            self.stack.wirings.append(Wiring("stream", function, self._handler(function), table, settings))
        else:
            self.stack.skipped.append(f"{logical}: イベントソース {source} はサンドボックスでは未対応です")
        return {"Ref": logical}

    def _handler(self, function_name: str) -> str:
        for resource in self.resources.values():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::Lambda::Function" and props.get("FunctionName") == function_name:
                return props["Handler"]
        raise TemplateError(f"関数 {function_name} の Handler が見つかりません / no Handler for {function_name}")


_MAKERS: dict[str, Callable] = {
    "AWS::DynamoDB::Table": _Builder.table,
    "AWS::SQS::Queue": _Builder.queue,
    "AWS::SQS::QueuePolicy": _Builder.queue_policy,
    "AWS::SNS::Topic": _Builder.topic,
    "AWS::SNS::TopicPolicy": _Builder.topic_policy,
    "AWS::SNS::Subscription": _Builder.subscription,
    "AWS::Events::EventBus": _Builder.bus,
    "AWS::Events::Archive": _Builder.archive,
    "AWS::Events::Rule": _Builder.rule,
    "AWS::StepFunctions::StateMachine": _Builder.state_machine,
    "AWS::Lambda::EventSourceMapping": _Builder.event_source_mapping,
}


# --- wiring into the runtime ----------------------------------------------------------------

def handler_of(path: str) -> Callable:
    """The function ``Handler`` names (``labs.course.consumers.sqs.lambda_handler``)."""
    module, _, attribute = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as error:
        raise TemplateError(f"Handler {path} を読み込めません / cannot import the handler: {error}") from error


def _accepts(method, name: str) -> bool:
    return name in inspect.signature(method).parameters


def wire(runtime, stack: Stack, handlers: dict[str, Callable] | None = None) -> list[str]:
    """Connect each function's events in ``runtime`` as the template says.

    ``handlers`` replaces some functions' code by name (e.g. a lesson's instrumented copy).
    Returns (and appends to ``stack.skipped``) what could not be wired as written.
    """
    notes: list[str] = []
    functions = stack.functions()
    for w in stack.wirings:
        if w.kind == "forward":
            runtime.on_queue(w.source, _publisher(w.settings["topic"]), function_name=w.function, timeout=30)
            continue
        handler = (handlers or {}).get(w.function) or handler_of(w.handler)
        timeout = int(functions.get(w.function, {}).get("timeout", 3))
        if w.kind == "sqs":
            _wire_sqs(runtime, w, handler, timeout, notes)
        elif w.kind == "stream":
            _wire_stream(runtime, stack, w, handler, timeout, notes)
        elif w.kind == "rule":
            bus, rule = w.source.split("/", 1)
            runtime.on_rule(bus, rule, handler, function_name=w.function, timeout=timeout)
            for key in ("InputTransformer", "Input", "InputPath"):
                if key in w.settings:
                    notes.append(f"{w.function}: ルール {rule} の {key} は Lambda ターゲットでは未対応 (イベント全体を渡します)")
        elif w.kind == "schedule":
            bus, rule = w.source.split("/", 1)
            runtime.on_schedule(bus, rule, handler, function_name=w.function)
    notes += _async_notes(stack)
    stack.skipped += [n for n in notes if n not in stack.skipped]
    return notes


def _wire_sqs(runtime, w: Wiring, handler, timeout: int, notes: list[str]) -> None:
    s = w.settings
    kwargs = {"function_name": w.function, "batch_size": int(s.get("BatchSize", 10)), "timeout": timeout,
              "report_batch_item_failures": "ReportBatchItemFailures" in (s.get("FunctionResponseTypes") or [])}
    if "FilterCriteria" in s:
        if _accepts(runtime.on_queue, "filter_criteria"):
            kwargs["filter_criteria"] = s["FilterCriteria"]
        else:
            notes.append(f"{w.function}: FilterCriteria はまだランタイムが未対応のため、フィルターなしで配線しました "
                         f"(本番では一致しないメッセージは関数に渡らず削除されます)")
    maximum_concurrency = (s.get("ScalingConfig") or {}).get("MaximumConcurrency")
    if maximum_concurrency is not None:
        kwargs["maximum_concurrency"] = int(maximum_concurrency)
    if "MaximumBatchingWindowInSeconds" in s:
        notes.append(f"{w.function}: MaximumBatchingWindowInSeconds はランタイムでは使いません")
    runtime.on_queue(w.source, handler, **kwargs)


def _wire_stream(runtime, stack: Stack, w: Wiring, handler, timeout: int, notes: list[str]) -> None:
    """A DynamoDB stream mapping with the template's settings (the runtime reads each as Lambda does)."""
    s = w.settings
    failure_arn = (s.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
    runtime.on_stream(w.source, handler, function_name=w.function, batch_size=int(s.get("BatchSize", 100)),
                      maximum_batching_window_in_seconds=int(s.get("MaximumBatchingWindowInSeconds", 0)),
                      starting_position=s.get("StartingPosition", "TRIM_HORIZON"),
                      bisect_batch_on_function_error=bool(s.get("BisectBatchOnFunctionError", False)),
                      maximum_retry_attempts=int(s.get("MaximumRetryAttempts", 2)),
                      maximum_record_age_in_seconds=int(s.get("MaximumRecordAgeInSeconds", -1)),
                      report_batch_item_failures="ReportBatchItemFailures" in (s.get("FunctionResponseTypes") or []),
                      filter_criteria=s.get("FilterCriteria"),
                      on_failure=failure_arn.rsplit(":", 1)[-1] if failure_arn else None, timeout=timeout)


def _async_notes(stack: Stack) -> list[str]:
    """EventInvokeConfig: what the runtime does instead (it always retries twice, then parks the
    event in its own failure queue)."""
    notes = []
    for resource in stack.cfn["Resources"].values():
        if resource["Type"] != "AWS::Lambda::EventInvokeConfig":
            continue
        props = resource["Properties"]
        function = props["FunctionName"]["Ref"] if isinstance(props["FunctionName"], dict) else props["FunctionName"]
        function = stack.physical.get(function, {}).get("Ref", function)
        if int(props.get("MaximumRetryAttempts", 2)) != 2:
            notes.append(f"{function}: 非同期呼び出しの再試行はランタイムでは常に 2 回です "
                         f"(テンプレート: {props['MaximumRetryAttempts']} 回)")
        if "DestinationConfig" in props:
            notes.append(f"{function}: 非同期呼び出しの失敗時の宛先 (DestinationConfig) はまだランタイムが未対応です。"
                         "失敗したイベントはランタイム内部の失敗キュー (lambda-…-failed) に残ります")
    return notes


def _publisher(topic_arn: str):
    """The stand-in for EventBridge's delivery to an SNS topic: publish each message as it is."""

    def publish(event, context):
        sns = sandbox.client("sns")
        failures = []
        for record in event["Records"]:
            try:
                sns.publish(TopicArn=topic_arn, Message=record["body"])
            except Exception:  # the message stays in the stand-in queue and is retried
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    return publish
