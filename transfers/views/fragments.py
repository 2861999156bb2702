"""The transfer pages' fragments: read through transfers.selectors, render one partial per
stable id. The full page, an HTMX answer and a websocket push render the same partials."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, QuerySet, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from transfers.access import Action, allowed_actions
from transfers.models import Transfer, TransferEvent, TransferLine, TransferState
from transfers.selectors import (
    ON_THE_ROAD,
    OPEN_STATES,
    LaneInTransit,
    in_transit_by_lane,
    is_late,
    transfers_list,
)
from transfers.views.forms import CancelForm, CloseShortForm, ReceiveForm

PER_SECTION = 50
RECENTLY_CLOSED = 10

User = AbstractBaseUser | AnonymousUser


def with_totals(transfers: QuerySet[Transfer]) -> QuerySet[Transfer]:
    return transfers.annotate(units=Sum("lines__quantity"), line_count=Count("lines"))


def mark_late(transfers: list[Transfer], now: datetime) -> list[Transfer]:
    """Give each transfer `late_by`: how late it is ("3 h late"), or "" when it is not."""
    for transfer in transfers:
        late_by = ""
        if is_late(transfer, now) and transfer.due_at is not None:
            late_by = late_text(now - transfer.due_at)
        # A display attribute the template reads, not a field (so unknown to the stubs).
        transfer.late_by = late_by  # type: ignore[attr-defined]
    return transfers


def late_text(late_by: timedelta) -> str:
    minutes = int(late_by.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min late"
    if minutes < 48 * 60:
        return f"{minutes // 60} h late"
    return f"{minutes // (24 * 60)} days late"


@dataclass(frozen=True, slots=True)
class StateSection:
    state: str
    title: str
    transfers: list[Transfer]
    total: int
    late: int = 0


@dataclass(frozen=True, slots=True)
class LaneTotals:
    lanes: list[LaneInTransit] = field(default_factory=list)

    @property
    def units_without_cost(self) -> int:
        return sum(lane.units_without_cost for lane in self.lanes)


def list_context() -> dict:
    """Open transfers by state (oldest first, late ones marked), what is on the road per
    lane, and the latest closed transfers."""
    now = timezone.now()
    totals = dict(
        Transfer.objects.filter(state__in=OPEN_STATES)
        .order_by()
        .values_list("state")
        .annotate(total=Count("pk"))
        .values_list("state", "total")
    )
    sections = []
    for state in OPEN_STATES:
        shown = mark_late(
            list(with_totals(transfers_list().filter(state=state)).order_by("pk")[:PER_SECTION]),
            now,
        )
        sections.append(
            StateSection(
                state=state,
                title=TransferState(state).label,
                transfers=shown,
                total=totals.get(state, 0),
                late=sum(1 for transfer in shown if getattr(transfer, "late_by", "")),
            )
        )
    closed = with_totals(transfers_list().exclude(state__in=OPEN_STATES)).order_by(
        "-closed_at", "-pk"
    )
    return {
        "sections": sections,
        "lanes": LaneTotals(in_transit_by_lane(now)),
        "closed": list(closed[:RECENTLY_CLOSED]),
        "now": now,
        "read_at": now,
    }


def render_list_region(*, oob: bool) -> str:
    return render_to_string("transfers/partials/list_region.html", {**list_context(), "oob": oob})


# --- One transfer ----------------------------------------------------------------------------


def transfer_for_page(pk: int) -> Transfer | None:
    return (
        Transfer.objects.select_related("source", "destination", "lane", "requested_by")
        .filter(pk=pk)
        .first()
    )


def transfer_lines(transfer: Transfer) -> list[TransferLine]:
    return list(transfer.lines.select_related("variant", "variant__product").order_by("pk"))


def summary_context(transfer: Transfer) -> dict:
    now = timezone.now()
    lines = transfer_lines(transfer)
    mark_late([transfer], now)
    return {
        "transfer": transfer,
        "lines": lines,
        "events": list(TransferEvent.objects.filter(transfer=transfer).order_by("id")),
        "totals": {
            name: sum(getattr(line, name) for line in lines)
            for name in ("quantity", "shipped", "accepted", "rejected", "lost", "returned")
        }
        | {"in_transit": sum(line.in_transit for line in lines)},
        "is_on_the_road": transfer.state in ON_THE_ROAD,
        "now": now,
        "read_at": now,
    }


def actions_context(transfer: Transfer, user: User, lines: list[TransferLine], **bound) -> dict:
    """The forms this user may use on the transfer in its state (none for viewers); a bound
    form (with its errors) replaces the fresh one of its action."""
    actions = allowed_actions(user, transfer)
    forms: dict = {
        "receive_form": ReceiveForm(lines=[line for line in lines if line.shipped])
        if Action.RECEIVE in actions
        else None,
        "close_short_form": CloseShortForm() if Action.CLOSE_SHORT in actions else None,
        "cancel_form": CancelForm(is_on_the_road=transfer.state in ON_THE_ROAD)
        if Action.CANCEL in actions
        else None,
        "return_form": ReceiveForm(
            lines=[line for line in lines if line.returning], allow_over_receipt=False
        )
        if Action.RECEIVE_RETURN in actions
        else None,
    }
    forms.update(bound)
    return {
        "actions": {action.value for action in actions},
        "transfer": transfer,
        **forms,
    }


def actions_key(transfer: Transfer, lines: list[TransferLine]) -> tuple:
    """What the forms depend on: when it is unchanged, a push leaves them (and what someone
    is typing into them) alone."""
    return (transfer.state, tuple((line.pk, line.in_transit, line.returning) for line in lines))


def render_transfer_push(transfer: Transfer, user: User, *, with_actions: bool) -> str:
    summary = summary_context(transfer)
    html = render_to_string("transfers/partials/summary.html", {**summary, "oob": True})
    if with_actions:
        context = actions_context(transfer, user, summary["lines"])
        html += render_to_string("transfers/partials/actions.html", {**context, "oob": True})
    return html
