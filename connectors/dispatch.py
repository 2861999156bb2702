"""The connectors' Celery tasks, looked up by name where a service queues one.

The task modules (`connectors.tasks`, `connectors.sync.tasks`) import the services they
run; the services queue tasks through this module instead of importing the task modules
back, so neither layer depends on the other's import. `connectors.apps` imports the task
modules at start-up, so every process has them registered under these names.
"""

from __future__ import annotations

from celery import Task, current_app

PUSH_OUTBOX = "connectors.tasks.push_outbox_task"
PROCESS_INBOX_EVENT = "connectors.tasks.process_inbox_event_task"
DRAIN_INBOX = "connectors.tasks.process_connector_inbox_task"
POLL_CONNECTOR = "connectors.sync.tasks.poll_connector_task"
RECONCILE_CONNECTOR = "connectors.sync.tasks.reconcile_connector_task"


def connector_task(name: str) -> Task:
    """The registered task called `name` (one of the constants above)."""
    return current_app.tasks[name]
