"""The OpenAPI schema documents every endpoint and its errors; the docs page needs no CDN."""

import re
from html.parser import HTMLParser

import pytest
import yaml
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver

from inventory_hub.api import urls as api_urls

SCHEMA_URL = "/api/schema/"
DOCS_URL = "/api/docs/"
PUBLIC_OPERATIONS = {"availability"}


class _Assets(HTMLParser):
    """Every URL the page makes the browser fetch: script src and link href."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.urls.append(attributes["src"])
        if tag == "link" and attributes.get("href"):
            self.urls.append(attributes["href"])


def page_assets(client: Client) -> list[str]:
    response = client.get(DOCS_URL)
    assert response.status_code == 200
    parser = _Assets()
    parser.feed(response.content.decode())
    return parser.urls


def _routes(patterns, prefix: str) -> list[tuple[str, URLPattern]]:
    found = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _routes(pattern.url_patterns, route)
        else:
            found.append((route, pattern))
    return found


def api_routes() -> dict[str, type]:
    """Each /api/v1/ path as OpenAPI writes it, to its view.

    <converter:name> becomes {name}, and drf-spectacular calls a primary key {id}.
    """
    paths = {}
    for route, pattern in _routes(api_urls.urlpatterns, ""):
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route).replace("{pk}", "{id}")
        paths["/api/v1/" + path] = pattern.callback.view_class
    return paths


@pytest.fixture(scope="module")
def schema() -> dict:
    response = Client().get(SCHEMA_URL)
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


# --- Swagger UI from our own static files ---------------------------------------------------


def test_docs_page_loads_every_script_and_stylesheet_from_our_static_files(client):
    urls = page_assets(client)

    assert len(urls) == 4  # favicon, stylesheet, bundle, preset
    assert [url for url in urls if not url.startswith("/static/")] == []


def test_docs_page_assets_answer_200_as_make_run_serves_them():
    # make run's settings (local) have DEBUG on: WhiteNoise then serves from the finders.
    with override_settings(DEBUG=True):
        client = Client()
        responses = {url: client.get(url) for url in page_assets(client)}

    assert {url: response.status_code for url, response in responses.items()} == {
        url: 200 for url in responses
    }


def test_docs_page_assets_answer_200_from_collected_static_as_production_serves_them(tmp_path):
    production_storage = {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=production_storage):
        # Only the Swagger UI files, to keep the compression of the rest out of the run.
        call_command(
            "collectstatic",
            interactive=False,
            verbosity=0,
            ignore_patterns=["admin", "rest_framework", "redoc", "django_htmx", "dashboard"],
        )
        client = Client()
        urls = page_assets(client)
        responses = {url: client.get(url) for url in urls}

    assert all(re.search(r"\.[0-9a-f]{12}\.(js|css|png)$", url) for url in urls), urls
    assert {url: response.status_code for url, response in responses.items()} == {
        url: 200 for url in urls
    }


def test_docs_page_sends_the_schema_to_no_online_validator(client):
    # Swagger UI's default validatorUrl is https://validator.swagger.io: the browser would
    # fetch a badge from it, naming our schema's URL.
    response = client.get(DOCS_URL)

    assert '"validatorUrl": null' in response.content.decode()


# --- The schema -----------------------------------------------------------------------------


def test_schema_is_openapi_3_and_lists_every_api_path(schema):
    assert schema["openapi"].startswith("3.")
    assert sorted(path for path in schema["paths"] if path.startswith("/api/v1/")) == sorted(
        api_routes()
    )


def test_every_operation_has_an_id_a_summary_and_a_documented_success(schema):
    missing = [
        (path, method)
        for path, method, operation in operations(schema)
        if not operation.get("operationId")
        or not operation.get("summary")
        or not any(code.startswith("2") for code in operation["responses"])
    ]

    assert missing == []


def test_every_authenticated_operation_documents_401_403_and_429(schema):
    missing = {
        (path, method): sorted({"401", "403", "429"} - set(operation["responses"]))
        for path, method, operation in operations(schema)
        if operation["operationId"] not in PUBLIC_OPERATIONS
    }

    assert {key: codes for key, codes in missing.items() if codes} == {}


def test_public_availability_documents_its_errors_and_asks_for_no_credentials(schema):
    operation = schema["paths"]["/api/v1/availability/"]["get"]

    # No security requirement here nor at the top: no credentials needed.
    assert "security" not in operation
    assert "security" not in schema
    assert {"400", "404", "429"} <= set(operation["responses"])


def test_every_write_documents_400_and_403(schema):
    missing = {
        (path, method): sorted({"400", "403"} - set(operation["responses"]))
        for path, method, operation in operations(schema)
        if method in {"post", "put", "patch"}
    }

    assert {key: codes for key, codes in missing.items() if codes} == {}


def test_every_path_with_a_parameter_documents_404(schema):
    missing = [
        (path, method)
        for path, method, operation in operations(schema)
        if "{" in path and "404" not in operation["responses"]
    ]

    assert missing == []


def test_idempotent_posts_document_the_key_header_and_422_and_only_they(schema):
    views = api_routes()
    expected = sorted(
        path
        for path, view in views.items()
        if getattr(getattr(view, "post", None), "takes_idempotency_key", False)
    )

    def documents_the_key(operation: dict) -> bool:
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        return "Idempotency-Key" in headers and "422" in operation["responses"]

    documented = sorted(
        path for path, method, operation in operations(schema) if documents_the_key(operation)
    )
    assert documented == expected
    assert "/api/v1/stock/adjustments/" in expected
    assert "/api/v1/warehouses/{code}/deactivate/" not in expected


def test_every_error_response_has_the_one_error_shape(schema):
    def ref(response: dict) -> str | None:
        return response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")

    other_shapes = [
        (path, method, code)
        for path, method, operation in operations(schema)
        for code, response in operation["responses"].items()
        if code.startswith(("4", "5")) and ref(response) != "#/components/schemas/Error"
    ]

    assert other_shapes == []
    assert schema["components"]["schemas"]["Error"]["properties"]["error"]["$ref"] == (
        "#/components/schemas/ErrorBody"
    )
