"""ThrottledLog: one traceback, then counted failures, whichever thread fails."""

import logging
import threading

from inventory_hub.throttled_log import ThrottledLog

logger = logging.getLogger("tests.throttled_log")


def fail(log: ThrottledLog) -> None:
    try:
        raise ConnectionError("redis went away")
    except ConnectionError:
        log.exception("Could not publish %s", "stock.changed")


def test_failures_from_many_threads_are_all_counted_in_the_next_line(caplog):
    now = [0.0]
    log = ThrottledLog(logger, interval_seconds=60.0, clock=lambda: now[0])
    threads = [threading.Thread(target=lambda: [fail(log) for _ in range(100)]) for _ in range(8)]

    with caplog.at_level(logging.WARNING, logger=logger.name):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        now[0] = 60.0
        fail(log)

    assert [record.getMessage() for record in caplog.records] == [
        "Could not publish stock.changed",
        "Could not publish stock.changed"
        " (again; 799 more failures like it skipped since the last log line)",
    ]


def test_a_failure_after_a_quiet_interval_gets_its_traceback_again(caplog):
    now = [0.0]
    log = ThrottledLog(logger, interval_seconds=60.0, clock=lambda: now[0])

    with caplog.at_level(logging.WARNING, logger=logger.name):
        fail(log)
        now[0] = 61.0
        fail(log)

    assert [(record.levelname, record.exc_info is not None) for record in caplog.records] == [
        ("ERROR", True),
        ("ERROR", True),
    ]
