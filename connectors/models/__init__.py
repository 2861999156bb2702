"""The sync engine's tables: connectors, mappings, inbox, outbox, runs and problems.

- `connector`: connectors, and their warehouse (location) and SKU mappings.
- `queues`: the inbox and the outbox, with the guarantees the database keeps for them.
- `runs`: sync runs, reconciliation reports and open sync problems.
- `status_rules`: who owns a forced stock status, and the log of its changes.
"""

from .connector import (
    CircuitState,
    Connector,
    ConnectorKind,
    LocationMapping,
    Ownership,
    SkuMapping,
)
from .queues import InboxEvent, InboxState, OutboxItem, OutboxState
from .runs import ReconciliationReport, SyncProblem, SyncProblemKind, SyncRun, SyncRunKind
from .status_rules import StatusChange, StatusRule

__all__ = [
    "CircuitState",
    "Connector",
    "ConnectorKind",
    "InboxEvent",
    "InboxState",
    "LocationMapping",
    "OutboxItem",
    "OutboxState",
    "Ownership",
    "ReconciliationReport",
    "SkuMapping",
    "StatusChange",
    "StatusRule",
    "SyncProblem",
    "SyncProblemKind",
    "SyncRun",
    "SyncRunKind",
]
