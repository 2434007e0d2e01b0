"""The bench's queue-depth figures (labs.devtools.bench.depth): small sizes, no timing asserted."""
from labs import sandbox
from labs.devtools import bench
from labs.sandbox.mends import sqs_queue_depth


def test_depth_measures_both_depths_and_both_sandboxes_and_leaves_the_mend_on():
    result = bench.depth(shallow=10, deep=200, compared_at=50, rounds=2, bare_rounds=1)
    assert (result.shallow, result.deep, result.compared_at) == (10, 200, 50)
    assert min(result.shallow_seconds, result.deep_seconds, result.mended_seconds, result.bare_seconds) > 0
    assert result.depth_cost > 0 and result.mended_over_bare > 0
    assert sqs_queue_depth.applied()
    assert sandbox.client("sqs").list_queues().get("QueueUrls", []) == []  # its queues are gone


def test_profile_queue_names_where_the_time_goes():
    report = bench.profile_queue(deep=100, rounds=3)
    assert report.startswith("queue at depth 100: 3 rounds")
    assert "sqs_queue_depth.py" in report or "moto/" in report
