"""The guard's reading of a URL: one reading, the one the HTTP library connects to, or a refusal.

The end-to-end proof (no socket beyond loopback, in every process) is tests/test_safety.py;
these pin the parsing rules themselves, quickly.
"""
import pytest
from urllib3.util import parse_url

from labs.sandbox import guard


@pytest.mark.parametrize("url, where", [
    ("http://127.0.0.1:4566", "http://127.0.0.1:4566"),
    ("http://127.0.0.2:4566/path?x=1", "http://127.0.0.2:4566"),  # all of 127/8 is loopback
    ("http://LOCALHOST:5000", "http://localhost:5000"),
    ("https://localhost", "https://localhost:443"),
    ("http://[::1]:4566", "http://[::1]:4566"),
    ("http://[0:0:0:0:0:0:0:1]:4566", "http://[0:0:0:0:0:0:0:1]:4566"),
])
def test_loopback_urls_pass_and_name_the_host_urllib3_connects_to(url, where):
    endpoint = guard.loopback(url)
    assert endpoint.url == where
    assert parse_url(url).host.strip("[]").lower() == endpoint.host


@pytest.mark.parametrize("url, problem", [
    ("https://sqs.ap-northeast-1.amazonaws.com", "real-aws"),
    ("http://10.0.0.1:4566", "outside"),
    ("http://169.254.169.254", "outside"),
    ("http://0.0.0.0:5000", "outside"),
    ("http://127.0.0.1.attacker.example:5000", "outside"),
    ("http://localhost.attacker.example:5000", "outside"),
    ("http://[fe80::1]:5000", "outside"),
    ("http://2130706433:5000", "numeric"),  # 127.0.0.1 to the resolver, but not to every parser
    ("http://0x7f.1:5000", "numeric"),
    ("http://127.1:5000", "numeric"),
    ("http://0177.0.0.1:5000", "numeric"),
    ("http://[::ffff:127.0.0.1]:5000", "numeric"),
])
def test_hosts_off_loopback_or_spelled_the_old_way_are_named(url, problem):
    assert guard.problem_with(guard.parse(url)) == problem
    with pytest.raises(guard.SandboxRefused) as refused:
        guard.loopback(url)
    assert "リクエストは送信していません" in str(refused.value) and "No request was sent" in str(refused.value)


@pytest.mark.parametrize("url", [
    "http://evil.example\\@127.0.0.1:4566",  # urllib.parse: 127.0.0.1; urllib3: evil.example
    "http://127.0.0.1\\@evil.example:4566",  # urllib.parse: evil.example; urllib3: 127.0.0.1
    "http://user@127.0.0.1:4566",
    "http://127.0.0.1:4566@evil.example",
    "http://127.0.0.1%2f@evil.example",
    "http://127.0.0.1 .evil.example",
    "http://[::1%25lo]:4566",
    "http://127.0.0.1:99999",
    "ftp://127.0.0.1",
    "127.0.0.1:4566",
])
def test_a_url_with_more_than_one_reading_is_refused(url):
    with pytest.raises(guard.SandboxRefused) as refused:
        guard.parse(url)
    assert "読み方が一通りに決まりません" in str(refused.value) and "more than one host" in str(refused.value)


def test_a_subprocess_request_for_an_aws_host_goes_to_the_notebooks_sandbox():
    sandbox = guard.parse("http://127.0.0.1:41000")
    routed = guard.routed_to_sandbox("https://ap-northeast-1.queue.amazonaws.com/123456789012/q?Action=x", sandbox)
    assert routed == "http://127.0.0.1:41000/123456789012/q?Action=x"
    assert guard.routed_to_sandbox("https://sqs.us-east-1.amazonaws.com", sandbox) == "http://127.0.0.1:41000/"
    assert guard.routed_to_sandbox("http://10.0.0.1:4566/", sandbox) == "http://10.0.0.1:4566/"  # refused later
