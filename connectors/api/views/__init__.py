"""Connectors over HTTP: their settings, health, mappings and reconciliation reports, and
the actions ops take (test the connection, sync now, reconcile now, set up, replay dead
letters, upload a partner's CSV feed, archive, restore, delete).

Everyone with a role reads; only ops staff change anything (the default permission).
Credentials and webhook secrets are accepted, never returned. Actions that start work
answer 202 and leave it to a worker; the ones that change something take an
Idempotency-Key.

- `settings`: the connectors themselves (list, create, read, change, delete, archive).
- `reports`: health, mappings, reconciliation reports and drift.
- `actions`: test, sync, reconcile, set up, replay dead letters, feed upload.
- `common`: finding a connector and the error replies the views document.
"""

from connectors.api.views.actions import (
    FeedUploadView,
    ReconcileNowView,
    ReplayDeadLettersView,
    SetupView,
    SyncNowView,
    TestConnectionView,
)
from connectors.api.views.reports import (
    ConnectorDriftView,
    ConnectorHealthView,
    ConnectorMappingsView,
    ReconciliationDetailView,
    ReconciliationListView,
)
from connectors.api.views.settings import (
    ArchiveView,
    ConnectorDetailView,
    ConnectorFilter,
    ConnectorListView,
    RestoreView,
)

__all__ = [
    "ArchiveView",
    "ConnectorDetailView",
    "ConnectorDriftView",
    "ConnectorFilter",
    "ConnectorHealthView",
    "ConnectorListView",
    "ConnectorMappingsView",
    "FeedUploadView",
    "ReconcileNowView",
    "ReconciliationDetailView",
    "ReconciliationListView",
    "ReplayDeadLettersView",
    "RestoreView",
    "SetupView",
    "SyncNowView",
    "TestConnectionView",
]
