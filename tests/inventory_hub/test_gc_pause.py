import gc

import pytest

from inventory_hub.gc_pause import collector_paused


@pytest.fixture(autouse=True)
def collector_enabled():
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_paused_inside_and_resumed_after():
    with collector_paused():
        assert not gc.isenabled()

    assert gc.isenabled()


def test_overlapping_pauses_resume_only_when_the_last_ends():
    outer = collector_paused()
    inner = collector_paused()
    outer.__enter__()
    inner.__enter__()

    outer.__exit__(None, None, None)
    still_paused = not gc.isenabled()
    inner.__exit__(None, None, None)

    assert still_paused
    assert gc.isenabled()


def test_an_error_inside_still_resumes_the_collector():
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("batch failed")

    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()

    with collector_paused():
        pass

    assert not gc.isenabled()
