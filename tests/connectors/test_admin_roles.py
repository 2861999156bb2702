"""Ops staff have the admin rights on connectors that README's roles table gives them."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from connectors.models import InboxEvent
from tests.connectors import engine_fakes
from tests.connectors.engine_fakes import make_hub
from warehouses.access import Role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("engine_kinds")]
engine_kinds = engine_fakes.engine_kinds


def admin_as(role: Role) -> Client:
    user = get_user_model().objects.create_user(username=role.name.lower(), is_staff=True)
    user.groups.add(Group.objects.get(name=role.value))
    client = Client()
    client.force_login(user)
    return client


CONNECTOR_PAGES = [
    "/admin/connectors/connector/",
    "/admin/connectors/connector/add/",
    "/admin/connectors/inboxevent/",
    "/admin/connectors/outboxitem/",
    "/admin/connectors/skumapping/",
    "/admin/connectors/syncproblem/",
]


@pytest.mark.parametrize("path", CONNECTOR_PAGES)
def test_ops_staff_open_every_connector_admin_page(path):
    response = admin_as(Role.OPS_STAFF).get(path)

    assert response.status_code == 200


def test_ops_staff_change_a_connector_and_upload_its_feed():
    hub = make_hub(None, kind="partner", ownership="store", options={"push_url": "/push"})
    ops = admin_as(Role.OPS_STAFF)
    change_page = ops.get(f"/admin/connectors/connector/{hub.connector.pk}/change/")
    upload = ops.post(
        f"/admin/connectors/connector/{hub.connector.pk}/upload-feed/",
        {"file": SimpleUploadedFile("s.csv", f"sku,quantity\n{hub.variant.sku},4\n".encode())},
    )

    assert change_page.status_code == 200
    assert 'name="_save"' in change_page.content.decode()
    assert upload.status_code == 302
    assert InboxEvent.objects.get().topic == "feed.upload"


@pytest.mark.parametrize("role", [Role.WAREHOUSE_MANAGER, Role.VIEWER])
def test_managers_and_viewers_read_connectors_and_change_nothing(role):
    hub = make_hub(None, kind="partner", ownership="store", options={"push_url": "/push"})
    client = admin_as(role)

    listing = client.get("/admin/connectors/connector/")
    upload = client.post(
        f"/admin/connectors/connector/{hub.connector.pk}/upload-feed/",
        {"file": SimpleUploadedFile("s.csv", f"sku,quantity\n{hub.variant.sku},4\n".encode())},
    )

    assert listing.status_code == 200
    assert upload.status_code == 403
    assert not InboxEvent.objects.exists()
