"""Ops staff mark sync problems resolved in the admin, through the problems service."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from connectors.engine.problems import record_problem
from connectors.models import SyncProblem, SyncProblemKind
from tests.connectors import engine_fakes
from tests.connectors.engine_fakes import make_hub
from tests.connectors.test_admin_roles import admin_as
from warehouses.access import Role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("engine_kinds")]
engine_kinds = engine_fakes.engine_kinds


def test_resolve_action_closes_the_selected_open_problems_only():
    connector = make_hub(None).connector
    chosen = record_problem(
        connector_id=connector.pk, kind=SyncProblemKind.DRIFT, message="x", subject="chosen"
    )
    record_problem(
        connector_id=connector.pk, kind=SyncProblemKind.DRIFT, message="y", subject="other"
    )
    closed_at = timezone.now() - timedelta(days=1)
    closed = record_problem(
        connector_id=connector.pk, kind=SyncProblemKind.UNMAPPED, message="old", subject="old"
    )
    SyncProblem.objects.filter(pk=closed.pk).update(resolved_at=closed_at)

    response = admin_as(Role.OPS_STAFF).post(
        reverse("admin:connectors_syncproblem_changelist"),
        {"action": "resolve_selected", ACTION_CHECKBOX_NAME: [chosen.pk, closed.pk]},
    )

    assert response.status_code == 302
    resolved = dict(SyncProblem.objects.values_list("subject", "resolved_at"))
    assert resolved["chosen"] is not None
    assert resolved["other"] is None
    assert resolved["old"] == closed_at
