"""The alerts' Celery tasks, looked up by name where a reaction queues one, so the
reactions (loaded in every process, web included) never import the task module."""

from __future__ import annotations

from celery import Task, current_app

EVALUATE = "alerts.tasks.evaluate_task"
SWEEP = "alerts.tasks.sweep_task"


def alerts_task(name: str) -> Task:
    """The registered task called `name` (one of the constants above)."""
    return current_app.tasks[name]
