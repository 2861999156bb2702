"""Pausing Python's cyclic garbage collector for one large batch.

A 10,000-row batch creates a few hundred thousand short-lived objects, and the collector
went over them again and again: about 45 % of a bulk request's CPU (`python -m
bench.bulk_stock --profile`). While paused, reference counting still frees everything
that is not part of a cycle; cycles the batch leaves behind are collected once the
collector resumes. The collector is process-wide, so overlapping batches share one pause
and the last one to finish resumes it.
"""

import gc
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def collector_paused():
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
