"""A warehouse's own system: its settings, and the reports it sends back.

`save_warehouse_system` is the one writer of a `WarehouseSystem` (the admin and the API
call it). `apply_system_report` turns a verified report (picked, shipped, received) into
the transition it names, through the same services every other entry point calls, and
keeps its `webhook-id` with the answer in the same transaction: a replay is answered the
same and changes nothing, a refused report leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from stock.actors import Actor
from stock.errors import UnknownSku
from stock.models import Variant
from transfers.errors import InvalidWarehouseSystem
from transfers.models import (
    RejectedDisposition,
    Transfer,
    WarehouseSystem,
    WarehouseSystemReport,
)
from transfers.signing import generate_secret, secret_problem
from warehouses.models import Warehouse

from .receiving import ReceiptLineInput, receive_transfer
from .transitions import pick_transfer, ship_transfer

URL_MAX_LENGTH = 500
_url_validator = URLValidator(schemes=["http", "https"])


def save_warehouse_system(
    *,
    warehouse: Warehouse,
    endpoint_url: str,
    secret: str = "",
    is_active: bool = True,
) -> WarehouseSystem:
    """Create or update the warehouse's system. An empty `secret` keeps the current one, or
    generates one for a new system (read it back from the returned row, once).

    Refused (InvalidWarehouseSystem, naming the field) unless the URL is http(s) and the
    secret a Standard Webhooks secret (`whsec_` + base64 of 24 to 64 bytes).
    """
    endpoint_url = endpoint_url.strip()
    if len(endpoint_url) > URL_MAX_LENGTH:
        raise InvalidWarehouseSystem(
            f"The endpoint URL is at most {URL_MAX_LENGTH} characters.", {"field": "endpoint_url"}
        )
    try:
        _url_validator(endpoint_url)
    except ValidationError:
        raise InvalidWarehouseSystem(
            "The endpoint URL is an http or https URL.", {"field": "endpoint_url"}
        ) from None
    secret = secret.strip()
    problem = secret_problem(secret) if secret else None
    if problem:
        raise InvalidWarehouseSystem(problem, {"field": "secret"})
    with transaction.atomic():
        system = WarehouseSystem.objects.select_for_update().filter(
            warehouse=warehouse
        ).first() or WarehouseSystem(warehouse=warehouse, secret=generate_secret())
        system.endpoint_url = endpoint_url
        system.is_active = is_active
        system.updated_at = timezone.now()
        if secret:
            system.secret = secret
        system.save()
    return system


def system_actor(system: WarehouseSystem) -> Actor:
    """Who a report acts as: on the ledger and the timeline, the warehouse's system."""
    return Actor.connector(f"wms:{system.warehouse.code}")


class ReportKind:
    PICKED = "picked"
    SHIPPED = "shipped"
    RECEIVED = "received"
    ALL = (PICKED, SHIPPED, RECEIVED)


@dataclass(frozen=True, slots=True)
class ReportLine:
    sku: str
    accepted: int = 0
    rejected: int = 0
    rejection_reason: str = ""
    rejected_disposition: str = RejectedDisposition.UNSELLABLE


@dataclass(frozen=True, slots=True)
class SystemReport:
    """A report as checked at the door (shape, types, ranges); SKUs not yet looked up."""

    kind: str
    transfer_reference: str
    receipt_reference: str = ""
    lines: Sequence[ReportLine] = field(default_factory=tuple)
    over_receipt: bool = False


class ReportRefused(Exception):
    """The report names a transfer this system may not report on, or none."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    result: dict
    is_replay: bool


def apply_system_report(
    *, system: WarehouseSystem, webhook_id: str, report: SystemReport
) -> ReportOutcome:
    """Apply a verified report once per `webhook-id`.

    Picked and shipped come from the source's system, received from the destination's
    (ReportRefused 403 otherwise, 404 for no such transfer). The transition's own errors
    (InvalidTransferState, OverReceipt, UnknownSku, …) propagate and nothing is kept.
    """
    seen = _seen(system, webhook_id)
    if seen is not None:
        return ReportOutcome(result=seen, is_replay=True)
    transfer = _transfer_for(system, report)
    try:
        with transaction.atomic():
            result = _apply(system, transfer, report)
            WarehouseSystemReport.objects.create(
                system=system,
                webhook_id=webhook_id,
                kind=report.kind,
                transfer=transfer,
                result=result,
            )
    except IntegrityError:
        # The same webhook-id raced in and committed first: answer what it got.
        seen = _seen(system, webhook_id)
        if seen is None:
            raise
        return ReportOutcome(result=seen, is_replay=True)
    return ReportOutcome(result=result, is_replay=False)


def _seen(system: WarehouseSystem, webhook_id: str) -> dict | None:
    return (
        WarehouseSystemReport.objects.filter(system=system, webhook_id=webhook_id)
        .values_list("result", flat=True)
        .first()
    )


def _transfer_for(system: WarehouseSystem, report: SystemReport) -> Transfer:
    # By the reporting end first: its foreign-key index finds the transfer; the reference
    # alone is unique only per source system.
    is_receipt = report.kind == ReportKind.RECEIVED
    end = {"destination": system.warehouse} if is_receipt else {"source": system.warehouse}
    transfer = Transfer.objects.filter(reference=report.transfer_reference, **end).first()
    if transfer is not None:
        return transfer
    if not Transfer.objects.filter(reference=report.transfer_reference).exists():
        raise ReportRefused(
            404, "not_found", f"No transfer with reference {report.transfer_reference!r}."
        )
    role = "destination" if is_receipt else "source"
    raise ReportRefused(
        403,
        "wrong_warehouse",
        f"Transfer {report.transfer_reference} is not {report.kind} by this warehouse: "
        f"only its {role}'s system reports that.",
    )


def _apply(system: WarehouseSystem, transfer: Transfer, report: SystemReport) -> dict:
    actor = system_actor(system)
    result: dict = {"type": report.kind, "transfer": transfer.reference}
    if report.kind == ReportKind.PICKED:
        transfer = pick_transfer(transfer=transfer, actor=actor)
    elif report.kind == ReportKind.SHIPPED:
        transfer = ship_transfer(transfer=transfer, actor=actor)
    else:
        receipt = receive_transfer(
            transfer=transfer,
            receipt_reference=report.receipt_reference,
            lines=_receipt_lines(report.lines),
            actor=actor,
            over_receipt=report.over_receipt,
        )
        transfer = receipt.transfer
        transfer.refresh_from_db(fields=["state"])
        result["receipt_reference"] = receipt.reference
    result["state"] = transfer.state
    return result


def _receipt_lines(lines: Sequence[ReportLine]) -> list[ReceiptLineInput]:
    skus = [line.sku for line in lines]
    variants = {variant.sku: variant for variant in Variant.objects.filter(sku__in=skus)}
    unknown = sorted(set(skus) - set(variants))
    if unknown:
        raise UnknownSku(f"Unknown SKU {unknown[0]!r}.", {"sku": unknown[0]})
    return [
        ReceiptLineInput(
            variant=variants[line.sku],
            accepted=line.accepted,
            rejected=line.rejected,
            rejection_reason=line.rejection_reason,
            rejected_disposition=line.rejected_disposition,
        )
        for line in lines
    ]
