"""What the corpus tests share: cases recorded on AWS (tests/sandbox/corpus/*.json), each citing its
source, run through the sandbox with boto3 and compared with what AWS answered."""
import json
from pathlib import Path

CORPUS_FOLDER = Path(__file__).parent / "corpus"


def load_corpus(name: str) -> list[dict]:
    return json.loads((CORPUS_FOLDER / name).read_text())


def case_ids(corpus: list[dict]) -> list[str]:
    return [case["id"] for case in corpus]


def assert_large_and_cited(corpus: list[dict], at_least: int) -> None:
    """Enough cases, each with a source to read and an id of its own."""
    assert len(corpus) >= at_least
    assert all(case["source"].startswith("https://") for case in corpus)
    assert len(set(case_ids(corpus))) == len(corpus)


def queue_with_arn(sqs, name: str) -> tuple[str, str]:
    """A new queue's URL and ARN (a rule or subscription names its target by ARN)."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
