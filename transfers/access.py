"""Who may do what to a transfer: the one place that says so for the API, admin and pages.

The roles are warehouses.access's. Ops staff may do anything. A warehouse manager (or an
integration, such as a warehouse's own system using the API) acts within the warehouses
of its scope (`writable_warehouse_ids`): the source's people approve, pick, ship and
cancel before shipping; the destination's people receive and close short; either end may
draft a transfer and cancel one on the road. Returned units are received by the source's
people. Viewers read. Lanes are setup: ops staff only.
"""

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from transfers.models import Transfer, TransferState
from warehouses.access import Capability, may, writable_warehouse_ids


class Action(StrEnum):
    CREATE = "create"
    APPROVE = "approve"
    PICK = "pick"
    SHIP = "ship"
    RECEIVE = "receive"
    CLOSE_SHORT = "close_short"
    CANCEL = "cancel"
    RECEIVE_RETURN = "receive_return"


SOURCE, DESTINATION, EITHER = "source", "destination", "either"

# Which end's people may take each action.
_END_OF: dict[Action, str] = {
    Action.CREATE: EITHER,
    Action.APPROVE: SOURCE,
    Action.PICK: SOURCE,
    Action.SHIP: SOURCE,
    Action.RECEIVE: DESTINATION,
    Action.CLOSE_SHORT: DESTINATION,
    Action.RECEIVE_RETURN: SOURCE,
}
_ON_THE_ROAD = (TransferState.SHIPPED, TransferState.PARTIALLY_RECEIVED)

User = AbstractBaseUser | AnonymousUser


def may_read_transfers(user: User) -> bool:
    return may(user, Capability.READ)


def may_manage_lanes(user: User) -> bool:
    return may(user, Capability.CHANGE_ANYTHING)


def may_act_between(user: User, action: Action, *, source_id: int, destination_id: int) -> bool:
    """Whether the user may take `action` on a transfer between these two warehouses (for
    cancelling, the end that decides is the source's; use `may_act` for a transfer)."""
    if not may(user, Capability.CHANGE_STOCK):
        return False
    scope = writable_warehouse_ids(user)
    if scope is None:
        return True
    end = _END_OF.get(action, SOURCE)
    if end == SOURCE:
        return source_id in scope
    if end == DESTINATION:
        return destination_id in scope
    return source_id in scope or destination_id in scope


def may_act(user: User, action: Action, transfer: Transfer) -> bool:
    """Whether the user may take `action` on this transfer (its state aside: the services
    refuse a transition its state does not allow)."""
    if action == Action.CANCEL and transfer.state in _ON_THE_ROAD:
        action = Action.CREATE  # either end may say where the units on the road are
    return may_act_between(
        user, action, source_id=transfer.source_id, destination_id=transfer.destination_id
    )


def deciding_end(action: Action, transfer: Transfer) -> str:
    """Whose people take `action` on this transfer: "source", "destination" or "either"
    (ops staff aside), for telling a refused user who may."""
    if action == Action.CANCEL and transfer.state in _ON_THE_ROAD:
        return EITHER
    return _END_OF.get(action, SOURCE)


def allowed_actions(user: User, transfer: Transfer) -> set[Action]:
    """The actions this user may take on the transfer and its state allows: what a page
    offers as buttons."""
    actions = NEXT_ACTIONS.get(transfer.state, ())
    if transfer.state == TransferState.CANCELLED and any(
        line.returning > 0 for line in transfer.lines.all()
    ):
        actions = (Action.RECEIVE_RETURN,)
    return {action for action in actions if may_act(user, action, transfer)}


# What each state allows next (the services enforce the same; this is for offering it).
NEXT_ACTIONS: dict[str, tuple[Action, ...]] = {
    TransferState.DRAFT: (Action.APPROVE, Action.CANCEL),
    TransferState.APPROVED: (Action.PICK, Action.SHIP, Action.CANCEL),
    TransferState.PICKED: (Action.SHIP, Action.CANCEL),
    TransferState.SHIPPED: (Action.RECEIVE, Action.CLOSE_SHORT, Action.CANCEL),
    TransferState.PARTIALLY_RECEIVED: (Action.RECEIVE, Action.CLOSE_SHORT, Action.CANCEL),
}
