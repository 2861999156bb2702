"""Instructions to a warehouse's own system: written with the approval, delivered after.

Delivery works as the connectors' outbox does, with the engine's own pieces: a row is
claimed under a lease (`FOR UPDATE SKIP LOCKED`, `claimed_until`) and committed before the
request goes out, so a worker that dies mid-request leaves it pending and a later run
sends it again, with the same `webhook-id`. A 2xx makes it sent, once (a later run finds
nothing to claim). Timeouts, refused connections, 5xx, 429 and 401/403 are retried with
the push engine's backoff (`connectors.engine.push.row_backoff`, `settings.CONNECTORS_PUSH`)
until `max_item_attempts`; any other 4xx, or attempts run out, makes it dead: kept, with
its error, on the transfer's timeline, until `replay_instruction`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

import requests
from celery import current_app
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from connectors.base import RemoteError, RemoteRejected, RemoteThrottled, RemoteUnavailable
from connectors.engine.http import raise_for_store_independent_status
from connectors.engine.push import PushSettings, push_settings, row_backoff
from connectors.sync.setup import public_base_url
from transfers.models import (
    InstructionState,
    Transfer,
    TransferEvent,
    TransferInstruction,
    WarehouseSystem,
)
from transfers.signing import sign

logger = logging.getLogger(__name__)

DELIVER_INSTRUCTION_TASK = "transfers.tasks.deliver_instruction_task"
PICK = "pick"
TIMEOUT_SECONDS = 10.0
HUB_LABEL = "hub"


def queue_pick_instruction(transfer: Transfer) -> TransferInstruction | None:
    """In the approving transaction: the pick instruction for the source's active system
    (none without one), and its delivery queued for after the commit."""
    system = WarehouseSystem.objects.filter(warehouse_id=transfer.source_id, is_active=True).first()
    if system is None:
        return None
    instruction = TransferInstruction.objects.create(
        transfer=transfer, system=system, kind=PICK, payload=pick_payload(transfer)
    )
    current_app.tasks[DELIVER_INSTRUCTION_TASK].delay_on_commit(instruction.pk)
    return instruction


def callback_url(warehouse_id: int) -> str:
    """Where a warehouse's system reports: absolute when HUB_PUBLIC_BASE_URL is set."""
    path = reverse("transfers:wms-events", args=[warehouse_id])
    return f"{public_base_url()}{path}"


def pick_payload(transfer: Transfer) -> dict:
    lines = transfer.lines.select_related("variant").order_by("pk")
    return {
        "type": "transfer.pick",
        "transfer_id": transfer.pk,
        "reference": transfer.reference,
        "source": {"id": transfer.source_id, "code": transfer.source.code},
        "destination": {"id": transfer.destination_id, "code": transfer.destination.code},
        "lines": [{"sku": line.variant.sku, "quantity": line.quantity} for line in lines],
        "expected_arrival": (
            transfer.expected_arrival.isoformat() if transfer.expected_arrival else None
        ),
        "callback_url": callback_url(transfer.source_id),
    }


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    attempts: int  # including this one


def deliver_instruction(*, instruction_id: int) -> str:
    """Send one instruction if it is due and nobody holds it. Returns what happened:
    `sent`, `retry`, `dead`, or `idle` (not pending, not due, or claimed elsewhere)."""
    config = push_settings()
    claim = _claim(instruction_id, _lease_seconds(config))
    if claim is None:
        return "idle"
    instruction = TransferInstruction.objects.select_related("system").get(pk=claim.id)
    try:
        _post(instruction)
    except RemoteRejected as error:
        _bury(instruction, f"Refused: {error}")
        return "dead"
    except RemoteError as error:
        if claim.attempts >= config.max_item_attempts:
            _bury(instruction, f"Gave up after {claim.attempts} attempts: {error}")
            return "dead"
        _release(instruction, claim, config, error)
        return "retry"
    _finish(instruction)
    return "sent"


def replay_instruction(*, instruction: TransferInstruction) -> TransferInstruction:
    """A dead instruction is pending again, due now, with its attempts reset."""
    now = timezone.now()
    TransferInstruction.objects.filter(pk=instruction.pk, state=InstructionState.DEAD).update(
        state=InstructionState.PENDING, attempts=0, due_at=now, claimed_until=None, updated_at=now
    )
    current_app.tasks[DELIVER_INSTRUCTION_TASK].delay_on_commit(instruction.pk)
    instruction.refresh_from_db()
    return instruction


def due_instruction_ids(limit: int = 500) -> list[int]:
    now = timezone.now()
    return list(
        TransferInstruction.objects.filter(state=InstructionState.PENDING, due_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .order_by("due_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def _lease_seconds(config: PushSettings) -> float:
    if config.lease_seconds is not None:
        return config.lease_seconds
    return 60.0 + TIMEOUT_SECONDS * 2


def _claim(instruction_id: int, lease_seconds: float) -> Claim | None:
    now = timezone.now()
    with transaction.atomic():
        row = (
            TransferInstruction.objects.select_for_update(skip_locked=True)
            .filter(pk=instruction_id, state=InstructionState.PENDING, due_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
            .values_list("attempts", flat=True)
            .first()
        )
        if row is None:
            return None
        TransferInstruction.objects.filter(pk=instruction_id).update(
            claimed_until=now + timedelta(seconds=lease_seconds),
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    return Claim(id=instruction_id, attempts=row + 1)


def _post(instruction: TransferInstruction) -> None:
    system = instruction.system
    if not system.is_active:
        raise RemoteRejected("The warehouse's system is switched off.")
    body = json.dumps(instruction.payload, separators=(",", ":")).encode()
    signed = sign(system.secret, message_id=instruction.message_id, body=body)
    try:
        response = requests.post(
            system.endpoint_url,
            data=signed.body,
            headers={**signed.headers, "Content-Type": "application/json"},
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        raise RemoteUnavailable(f"{type(error).__name__}: {error}") from None
    message = f"The warehouse's system answered {response.status_code}."
    raise_for_store_independent_status(response, message)
    if not 200 <= response.status_code < 300:
        raise RemoteRejected(message, status=response.status_code)


def _finish(instruction: TransferInstruction) -> None:
    now = timezone.now()
    with transaction.atomic():
        done = TransferInstruction.objects.filter(
            pk=instruction.pk, state=InstructionState.PENDING
        ).update(
            state=InstructionState.SENT,
            sent_at=now,
            claimed_until=None,
            last_error="",
            updated_at=now,
        )
        if done:
            _note(instruction, "instruction_sent", attempts=instruction.attempts)


def _release(
    instruction: TransferInstruction, claim: Claim, config: PushSettings, error: RemoteError
) -> None:
    delay = row_backoff(claim.attempts, config)
    if isinstance(error, RemoteThrottled) and error.retry_after_seconds is not None:
        delay = min(max(delay, error.retry_after_seconds), config.max_retry_after_seconds)
    now = timezone.now()
    TransferInstruction.objects.filter(pk=instruction.pk, state=InstructionState.PENDING).update(
        claimed_until=None,
        due_at=now + timedelta(seconds=delay),
        last_error=str(error)[:2000],
        updated_at=now,
    )


def _bury(instruction: TransferInstruction, error: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        buried = TransferInstruction.objects.filter(
            pk=instruction.pk, state=InstructionState.PENDING
        ).update(
            state=InstructionState.DEAD, claimed_until=None, last_error=error[:2000], updated_at=now
        )
        if buried:
            _note(instruction, "instruction_dead", error=error[:500])
    logger.warning("Transfer instruction %s is dead: %s", instruction.pk, error)


def _note(instruction: TransferInstruction, kind: str, **details: object) -> None:
    TransferEvent.objects.create(
        transfer_id=instruction.transfer_id,
        kind=kind,
        actor_label=HUB_LABEL,
        details={"instruction": instruction.pk, "kind": instruction.kind, **details},
    )
