"""Schema-driven fuzzing: every operation of /api/schema/, driven through the real app.

Schemathesis reads the schema the app serves and sends each operation generated requests,
valid and invalid, through Django's WSGI handler (real views, services and PostgreSQL, no
mocks). Every answer goes through every check schemathesis has (CHECKS below): no 5xx, a
documented status, content type, headers and body, invalid data refused, valid data
accepted, credentials enforced. Authenticated operations run as ops staff (who may do
anything); the public availability endpoint runs without credentials.

`make test` runs a short deterministic pass (FUZZ_EXAMPLES, default 25 per operation);
`make fuzz` runs many more examples with fresh randomness plus schemathesis' coverage phase
(see the Makefile). A failure prints the request to reproduce it as a curl command.
"""

import os
from datetime import timedelta

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import load_all_checks
from schemathesis.generation.meta import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from alerts.services import create_silence, save_escalation_step, send_test_message
from connectors.models import Connector, ReconciliationReport
from stock.services import receive_stock
from tests.api.alerts_support import firing_alert, mail_receiver, route_to
from tests.stock.factories import SYSTEM, VariantFactory, channel_selling_from, place
from tests.transfers.factories import LaneFactory, draft
from tests.warehouses.factories import WarehouseFactory
from transfers.services import approve_transfer, ship_transfer
from warehouses.access import Role

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
# `make test`: a short pass that repeats itself exactly. `make fuzz`: fresh randomness, and
# the coverage phase too (every boundary value, wrong type and missing field of every
# parameter, systematically: thorough, and most of the run's time).
IS_THOROUGH = os.environ.get("FUZZ_THOROUGH", "") == "1"
load_all_checks()
# Every check the installed schemathesis registers, none left out:
# not_a_server_error, status_code_conformance, content_type_conformance,
# response_headers_conformance, response_schema_conformance, negative_data_rejection,
# positive_data_acceptance, missing_required_header, unsupported_method,
# allow_header_conformance, use_after_free, ensure_resource_availability, ignored_auth and
# object_level_authorization. Three of them have nothing to act on here and pass vacuously,
# which is why they are harmless to keep: use_after_free and ensure_resource_availability
# compare a request with an earlier one of the same stateful scenario (a DELETE, then a
# read), and each example here is one request rolled back; object_level_authorization
# replays a read as each other configured identity, and the fuzz runs as one (the role
# and scope matrix is tests/api/test_roles.py). max_response_time is not a registered
# check: it needs a limit, and timing is the benchmarks' job.
CHECKS = REGISTERED_CHECKS.get_all()

# positive_data_acceptance cannot apply to these operations: a request their schema allows
# may break a rule no OpenAPI 3.0 schema can state, and the API rightly answers 400 naming
# the field. Every other check still runs on them; every other operation runs it too.
RULES_NO_SCHEMA_STATES = {
    "POST /api/v1/bulk/stock/": "each SKU and warehouse at most once in a batch",
    "POST /api/v1/channels/": "each warehouse linked once",
    "PUT /api/v1/channels/{code}/": "each warehouse linked once",
    "PATCH /api/v1/channels/{code}/": "each warehouse linked once",
    "POST /api/v1/connectors/": "options per kind; credentials to switch a store on",
    "PUT /api/v1/connectors/{id}/": "each warehouse mapped once; options per kind",
    "PATCH /api/v1/connectors/{id}/": "each warehouse mapped once; options per kind",
    "POST /api/v1/connectors/{id}/feed/": "the CSV has the partner's header columns",
    "POST /api/v1/orders/": "each SKU on one line",
    "POST /api/v1/orders/{id}/ship/": "line numbers the order has",
    "POST /api/v1/lanes/": "a capacity no smaller than the lane's minimum",
    "PATCH /api/v1/lanes/{id}/": "a capacity no smaller than the lane's minimum",
    "POST /api/v1/transfers/": "each SKU on one line",
    "PATCH /api/v1/transfers/{id}/": "each SKU on one line",
    "POST /api/v1/transfers/{id}/receive/": (
        "each SKU on one line, at least one unit each, a reason for rejected units"
    ),
    "POST /api/v1/transfers/{id}/receive-return/": (
        "each SKU on one line, at least one unit each, a reason for rejected units"
    ),
    "POST /api/v1/alert-rules/": "the scope and params a condition takes; label names",
    "PATCH /api/v1/alert-rules/{id}/": "the scope and params a condition takes; label names",
    "POST /api/v1/alert-receivers/": "config per kind: addresses, E.164 numbers, a URL",
    "PATCH /api/v1/alert-receivers/{id}/": "config per kind: addresses, E.164 numbers, a URL",
    "POST /api/v1/alert-routes/": "label names in matchers and group_by; a name not in use",
    "PATCH /api/v1/alert-routes/{id}/": "label names in matchers and group_by; a name not in use",
    "POST /api/v1/alert-escalation-steps/": "a later step waits as long as an earlier one",
    "PATCH /api/v1/alert-escalation-steps/{id}/": "a later step waits as long as an earlier one",
    "POST /api/v1/silences/": "label names; ends_at in the future, within a year of its start",
    "POST /api/v1/warehouses/": "latitude and longitude together, in range (decimal text)",
    "PUT /api/v1/warehouses/{code}/": "latitude and longitude together, in range",
    "PATCH /api/v1/warehouses/{code}/": "latitude and longitude together, with the stored",
    # OpenAPI 3.0 has no propertyNames (the schema says it; generators ignore it).
    "POST /api/v1/variants/": "attribute names not blank, without ':'",
    "PUT /api/v1/variants/{sku}/": "attribute names not blank, without ':'",
    "PATCH /api/v1/variants/{sku}/": "attribute names not blank, without ':'",
}

schema = schemathesis.openapi.from_wsgi(
    "/api/schema/",
    WSGIHandler(),
    config=schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": IS_THOROUGH}}}),
)

# The seeded objects, by the name a parameter or body field gives them, so that a generated
# request names one that exists about half the time.
REAL: dict[str, object] = {}


@pytest.fixture
def world(db) -> str:
    """Two warehouses, a channel selling from both, two stocked SKUs, a placed order; the
    ops staff token the authenticated operations run with."""
    berlin, baltimore = WarehouseFactory(code="BER"), WarehouseFactory(code="BAL")
    channel = channel_selling_from(berlin, baltimore, code="EU")
    sheet, pillow = VariantFactory(sku="SHEET"), VariantFactory(sku="PILLOW")
    for variant in (sheet, pillow):
        receive_stock(variant=variant, warehouse=berlin, quantity=20, actor=SYSTEM)
    order = place(channel, "FUZZ-1", ("SHEET", 2), ("PILLOW", 1)).order
    user = get_user_model().objects.create_user(username="fuzz-ops", password="unused-here")
    user.groups.add(Group.objects.get(name=Role.OPS_STAFF.value))
    # A connector whose store never answers (port 9): its actions reach no real store.
    connector = Connector.objects.create(
        name="fuzz-shop",
        kind="woocommerce",
        base_url="http://127.0.0.1:9",
        credentials={"consumer_key": "ck", "consumer_secret": "cs"},
        channel=channel,
        timeout_seconds=0.5,
    )
    report = ReconciliationReport.objects.create(connector=connector, checked=1)
    # A transfer in each state a transition starts from, BER to BAL; a lane the other way
    # (BER to BAL stays free for a created one).
    drafted = draft(berlin, baltimore, (sheet, 1), reference="FUZZ-DRAFT")
    approved = draft(berlin, baltimore, (sheet, 1), reference="FUZZ-APPROVED")
    shipped = draft(berlin, baltimore, (sheet, 1), reference="FUZZ-SHIPPED")
    for transfer in (approved, shipped):
        approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=shipped, actor=SYSTEM)
    lane = LaneFactory(source=baltimore, destination=berlin)
    # A partner that owns its stock: the one kind that takes an uploaded CSV feed.
    partner = Connector.objects.create(
        name="fuzz-partner",
        kind="partner",
        base_url="http://127.0.0.1:9",
        webhook_secret="fuzz-partner-secret",
        ownership="store",
        channel=channel,
        timeout_seconds=0.5,
    )
    # Alerts: one firing (at a warehouse of its own), its rule, a receiver with a route, an
    # escalation step, a silence and a test message in the delivery log.
    alert = firing_alert("FUZZ-LOW", "FUZZ-MUG")
    receiver = mail_receiver()
    route = route_to(receiver)
    step = save_escalation_step(severity="warning", position=1, after_minutes=5, receiver=receiver)
    silence = create_silence(
        matchers={"team": "fuzz"},
        author=SYSTEM,
        reason="fuzz",
        ends_at=timezone.now() + timedelta(days=1),
    )
    notification = send_test_message(receiver=receiver, actor=SYSTEM)
    REAL.clear()
    REAL.update(
        warehouse="BER",
        channel="EU",
        sku="SHEET",
        product=sheet.product_id,
        order=order.pk,
        connector=connector.pk,
        connector_kind=connector.kind,
        report=report.pk,
        partner=partner.pk,
        source="BER",
        destination="BAL",
        lane=lane.pk,
        draft_transfer=drafted.pk,
        approved_transfer=approved.pk,
        shipped_transfer=shipped.pk,
        alert=alert.pk,
        rule=alert.rule_id,
        receiver=receiver.pk,
        route=route.pk,
        step=step.pk,
        silence=silence.pk,
        notification=str(notification.pk),
    )
    return Token.objects.create(user=user).key


@pytest.fixture
def handler_keeps_the_test_transaction():
    # Django's WSGI handler closes the connection around each request, which would end the
    # test's transaction; Django's own test client unhooks the same receiver.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


FIELDS = {name: name for name in ("warehouse", "channel", "sku", "product")}


def _with_real(value, names: dict[str, str]):
    """`value` with every field of those names, at any depth, set to a seeded object."""
    if isinstance(value, list):
        return [_with_real(item, names) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: REAL[names[key]] if key in names and names[key] in REAL else _with_real(item, names)
        for key, item in value.items()
    }


# The transfer each transition's path names: one in the state it starts from (a draft for
# reading and editing one).
TRANSFER_FOR = {
    "{id}": "draft",
    "approve": "draft",
    "pick": "approved",
    "ship": "approved",
    "cancel": "approved",
}


def _path_names(path: str) -> dict[str, str]:
    owner = path.removeprefix("/api/v1/").split("/")[0]
    connector = "partner" if path.endswith("/feed/") else "connector"
    transition = path.rstrip("/").rsplit("/", 1)[-1]
    transfer = f"{TRANSFER_FOR.get(transition, 'shipped')}_transfer"
    return {
        "code": {"channels": "channel"}.get(owner, "warehouse"),
        "sku": "sku",
        "id": {
            "orders": "order",
            "connectors": connector,
            "lanes": "lane",
            "transfers": transfer,
            "alerts": "alert",
            "alert-rules": "rule",
            "alert-receivers": "receiver",
            "alert-routes": "route",
            "alert-escalation-steps": "step",
            "silences": "silence",
            "alert-notifications": "notification",
        }.get(owner, "product"),
        "report_id": "report",
    }


ALERT_PATHS = ("/api/v1/alert", "/api/v1/silences/")


def _field_names(path: str) -> dict[str, str]:
    """Body and query fields that name seeded records (a transfer's or lane's two ends)."""
    if path.startswith(("/api/v1/transfers/", "/api/v1/lanes/")):
        return {**FIELDS, "source": "source", "destination": "destination"}
    if path.startswith(ALERT_PATHS):
        return {**FIELDS, **{name: name for name in ("rule", "receiver", "alert", "connector")}}
    return FIELDS


def _name_seeded_records(case) -> None:
    """Point the references of a request's schema-valid parts at seeded records, and make a
    PUT or PATCH repeat its path's code and kind.

    positive_data_acceptance wants every schema-valid request accepted, but no schema can say
    that a reference must name an existing record or that an update repeats what it may not
    change (the API answers those with a 400 naming the field, as it should). A part generated
    invalid is left as it is: a real name could make it valid, and negative_data_rejection
    would then count the (right) acceptance as a failure.
    """
    meta = case.meta

    def untouched(location: ParameterLocation) -> bool:
        return not meta.generation.mode.is_positive and meta.is_negative_at(location)

    if not untouched(ParameterLocation.PATH):
        case.path_parameters = _with_real(case.path_parameters, _path_names(case.operation.path))
    if not untouched(ParameterLocation.QUERY):
        case.query = _with_real(case.query, _field_names(case.operation.path))
    if untouched(ParameterLocation.BODY) or not isinstance(case.body, dict):
        return
    # A POST's own identifier is new: only what it refers to must exist.
    created = "sku" if (case.method, case.operation.path) == ("POST", "/api/v1/variants/") else ""
    fields = _field_names(case.operation.path)
    case.body = _with_real(case.body, {name: name for name in fields if name != created})
    if case.method in ("PUT", "PATCH"):
        for name in ("code", "sku"):
            if name in case.body and name in case.path_parameters:
                case.body[name] = case.path_parameters[name]
        if "kind" in case.body and case.operation.path.startswith("/api/v1/connectors/"):
            case.body["kind"] = REAL["connector_kind"]


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=not IS_THOROUGH,
    # Requests go through the whole stack and PostgreSQL: no per-example deadline. The
    # function-scoped fixtures are meant to span the examples (each rolls back its own
    # writes), and the schema's strict patterns make some generation slow by design.
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
def test_api_answers_every_generated_request_as_documented(
    case, world, handler_keeps_the_test_transaction
):
    public = not case.operation.definition.raw.get("security")
    headers = {} if public else {"Authorization": f"Token {world}"}

    # Each example starts from the same seeded state and leaves nothing behind.
    with transaction.atomic():
        cache.clear()
        _name_seeded_records(case)
        response = case.call(headers=headers)
        excluded = (
            [positive_data_acceptance]
            if f"{case.method} {case.operation.path}" in RULES_NO_SCHEMA_STATES
            else []
        )
        case.validate_response(response, checks=CHECKS, excluded_checks=excluded, headers=headers)
        transaction.set_rollback(True)


# --- What the fuzzer found, pinned as plain tests -------------------------------------------
# Fixed ones: tests/api/test_unstorable_input.py (NUL and lone surrogates echoed in errors),
# tests/api/test_strict_input.py (page_size, numbers for text).


@pytest.mark.django_db
def test_movements_time_filter_with_an_offset_postgresql_cannot_read_is_not_a_500(ops_client):
    response = ops_client.get("/api/v1/movements/", {"occurred_after": "1802-12-04T20:58:47-20:37"})

    assert response.status_code == 200
