"""labs.workbook.lessons: the per-lesson helpers notebooks call instead of redefining plumbing."""
import json

import boto3

from labs.observe import plots
from labs.runtime import LocalRuntime
from labs.sandbox import provision
from labs.workbook.lessons.lesson02 import watch_queue_depths


def test_watch_queue_depths_samples_until_the_consumers_are_done():
    fast, slow = provision.ensure_queue("watch-fast"), provision.ensure_queue("watch-slow")
    sqs = boto3.client("sqs")
    for url in (fast, slow):
        for i in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": i}))
    done = []
    runtime = LocalRuntime()
    runtime.on_queue(fast, lambda event, context: done.extend(event["Records"]), function_name="fast", batch_size=10)
    runtime.on_queue(slow, lambda event, context: done.extend(event["Records"]), function_name="slow", batch_size=1)
    samples = watch_queue_depths(runtime, {"速い": fast, "遅い": slow}, until=lambda: len(done) == 6, every=0.01)
    assert samples[-1][1] == {"速い": 0, "遅い": 0}
    assert [t for t, _ in samples] == sorted(t for t, _ in samples)
    assert len(done) == 6


def test_queue_depths_draws_each_queue_and_the_shaded_stretch():
    samples = [(0.0, {"a": 3, "b": 2}), (0.5, {"a": 1, "b": 2}), (1.0, {"a": 0, "b": 0})]
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    assert plots.queue_depths(samples, "t", shade=(0, 0.5, "障害中"), ax=ax) is ax
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["a", "b", "障害中"]
    plt.close(ax.figure)
