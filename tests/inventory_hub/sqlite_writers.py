"""Run as a script: the embedded worker and two request-like threads write one SQLite file.

Prints one JSON line: rows written and every error met. Used by test_embedded.py with
DATABASE_URL pointing at a migrated SQLite file.
"""

import json
import threading
import time

import django

TASKS, ROWS_PER_TASK = 4, 50
REQUEST_THREADS, ROWS_PER_REQUEST_THREAD = 2, 100
EXPECTED_ROWS = TASKS * ROWS_PER_TASK + REQUEST_THREADS * ROWS_PER_REQUEST_THREAD


def main() -> None:
    django.setup()
    from celery import shared_task
    from celery.signals import task_failure, task_postrun
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from inventory_hub.celery import app
    from inventory_hub.embedded import EmbeddedWorker

    errors: list[str] = []

    def write(prefix: str, number: int) -> None:
        with transaction.atomic():
            # Read, then write: the pattern that fails at once in a deferred transaction
            # when another connection wrote in between.
            Group.objects.count()
            Group.objects.create(name=f"probe-{prefix}-{number}")

    @shared_task(name="tests.inventory_hub.write_groups_task")
    def write_groups_task(prefix: str, count: int) -> None:
        for number in range(count):
            write(prefix, number)

    finished_tasks = threading.Semaphore(0)

    @task_failure.connect
    def remember_failure(exception=None, **kwargs) -> None:
        errors.append(f"task: {exception!r}")

    @task_postrun.connect
    def count_finished(**kwargs) -> None:
        finished_tasks.release()

    def request_thread(prefix: str) -> None:
        try:
            for number in range(ROWS_PER_REQUEST_THREAD):
                try:
                    write(prefix, number)
                except Exception as exc:
                    errors.append(f"request: {exc!r}")
        finally:
            connection.close()

    worker = EmbeddedWorker(app=app)
    worker.start()
    for task in range(TASKS):
        write_groups_task.delay(f"task{task}", ROWS_PER_TASK)
    threads = [
        threading.Thread(target=request_thread, args=(f"request{n}",))
        for n in range(REQUEST_THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 30
    for _ in range(TASKS):
        if not finished_tasks.acquire(timeout=max(0.0, deadline - time.monotonic())):
            errors.append("tasks still unfinished after 30 s")
            break
    worker.stop()
    rows = Group.objects.filter(name__startswith="probe-").count()
    print(json.dumps({"rows": rows, "errors": errors}))


if __name__ == "__main__":
    main()
