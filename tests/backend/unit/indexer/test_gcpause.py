"""The collector pause: nesting and pauses that overlap across threads."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from tracemark.chain.indexer.gcpause import gc_paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_pause_disables_and_restores() -> None:
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pause_restores_only_at_the_outermost_end() -> None:
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_in_two_threads_keep_the_collector_off_until_both_end() -> None:
    inner_entered, outer_left, inner_may_leave = threading.Event(), threading.Event(), threading.Event()
    seen_after_outer_left: list[bool] = []

    def writer() -> None:
        with gc_paused():
            inner_entered.set()
            outer_left.wait(5)
            seen_after_outer_left.append(gc.isenabled())
            inner_may_leave.wait(5)

    thread = threading.Thread(target=writer)
    with gc_paused():
        thread.start()
        assert inner_entered.wait(5)
    outer_left.set()  # the first pause has ended; the writer's is still on
    inner_may_leave.set()
    thread.join(5)
    assert seen_after_outer_left == [False]
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_the_pause_ends_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
