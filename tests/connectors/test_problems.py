"""Sync problems merge: one open problem per connector, kind and subject, with a count and
the time it was last seen, also when two workers file the same problem at once."""

import threading
import time

import pytest
from django.db import connection, transaction

from connectors.engine.problems import record_problem, resolve_problems
from connectors.models import Connector, SyncProblem, SyncProblemKind

pytestmark = [pytest.mark.postgres]


def store(name: str = "problem store") -> Connector:
    return Connector.objects.create(name=name, kind="woocommerce", base_url="https://s.example")


@pytest.mark.django_db
def test_the_same_problem_filed_again_is_counted_on_the_open_one():
    connector = store()

    first = record_problem(
        connector_id=connector.pk, kind=SyncProblemKind.DRIFT, message="1 SKU", details={"n": 1}
    )
    second = record_problem(
        connector_id=connector.pk, kind=SyncProblemKind.DRIFT, message="2 SKUs", details={"n": 2}
    )

    assert second.pk == first.pk
    problem = SyncProblem.objects.get()
    assert (problem.count, problem.message, problem.details) == (2, "2 SKUs", {"n": 2})
    assert problem.created_at == first.created_at
    assert problem.last_seen_at > problem.created_at


@pytest.mark.django_db
def test_another_subject_kind_or_connector_is_another_problem():
    connector, other = store(), store("other store")

    record_problem(connector_id=connector.pk, kind="unmapped", message="a", subject="order 1")
    record_problem(connector_id=connector.pk, kind="unmapped", message="b", subject="order 2")
    record_problem(connector_id=connector.pk, kind="drift", message="c", subject="order 1")
    record_problem(connector_id=other.pk, kind="unmapped", message="d", subject="order 1")

    assert SyncProblem.objects.count() == 4
    assert set(SyncProblem.objects.values_list("count", flat=True)) == {1}


@pytest.mark.django_db
def test_after_a_problem_is_resolved_the_next_occurrence_opens_a_new_one():
    connector = store()
    resolved = record_problem(connector_id=connector.pk, kind="poll_failed", message="down")
    resolve_problems(connector_id=connector.pk, kinds=["poll_failed"])

    reopened = record_problem(connector_id=connector.pk, kind="poll_failed", message="down again")

    assert reopened.pk != resolved.pk
    assert reopened.count == 1 and reopened.resolved_at is None
    assert SyncProblem.objects.filter(resolved_at__isnull=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_problem_filed_while_another_worker_files_it_is_merged_not_doubled():
    connector = store()
    filed, commit = threading.Event(), threading.Event()

    def first_worker() -> None:
        try:
            with transaction.atomic():
                record_problem(connector_id=connector.pk, kind="push_failed", message="first")
                filed.set()
                commit.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=first_worker)
    thread.start()
    assert filed.wait(10)
    # The first insert is not committed yet: this one waits on the unique index, then merges.
    threading.Timer(0.3, commit.set).start()
    started = time.monotonic()
    second = record_problem(connector_id=connector.pk, kind="push_failed", message="second")
    thread.join()

    assert time.monotonic() - started >= 0.25
    problem = SyncProblem.objects.get()
    assert (problem.pk, problem.count, problem.message) == (second.pk, 2, "second")


@pytest.mark.django_db(transaction=True)
def test_eight_workers_filing_one_problem_at_once_leave_one_counted_eight_times():
    connector = store()
    barrier = threading.Barrier(8)
    errors = []

    def worker() -> None:
        try:
            barrier.wait(10)
            record_problem(connector_id=connector.pk, kind="poll_failed", message="down")
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert list(SyncProblem.objects.values_list("count", flat=True)) == [8]
