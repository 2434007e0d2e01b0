import pytest

from labs import sandbox
from labs.observe import recorder


@pytest.fixture(autouse=True)
def fresh_sandbox():
    """Each test starts with an empty in-process sandbox and an empty recorder."""
    sandbox.start()
    sandbox.reset()
    recorder.clear()
    yield
