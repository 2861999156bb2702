"""Celery entry points of transfers. Each takes ids, calls a service, returns.

Safe to run twice or at once (so `acks_late=True`): delivering claims the instruction
under a lease first, and one already sent, claimed elsewhere or not yet due is left alone.
"""

from __future__ import annotations

from celery import shared_task

from transfers.services import deliver_instruction
from transfers.services.instructions import due_instruction_ids


@shared_task(acks_late=True, ignore_result=True)
def deliver_instruction_task(instruction_id: int) -> str:
    return deliver_instruction(instruction_id=instruction_id)


@shared_task(acks_late=True, ignore_result=True)
def sweep_instructions_task() -> int:
    """Beat, every few seconds: queue each pending instruction whose backoff has passed, or
    whose worker died holding it (its lease has passed)."""
    ids = due_instruction_ids()
    for instruction_id in ids:
        deliver_instruction_task.delay(instruction_id)
    return len(ids)
