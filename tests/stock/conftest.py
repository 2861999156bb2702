import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from tests.browser_support import VIEWPORT, LiveHub, database_url, launch_chromium


@pytest.fixture(scope="module")
def live_hub(django_db_setup, tmp_path_factory):
    """The real hub (runhub: HTTP and WebSocket) on the test database, for a module's tests.

    Its tests must use `django_db(transaction=True)`: the hub is another process and only
    sees committed rows. A test may `stop()` and `start()` it; it keeps its port.
    """
    hub = LiveHub(
        database_url=database_url(settings.DATABASES["default"]),
        log_path=tmp_path_factory.mktemp("live-hub") / "runhub.log",
    )
    try:
        hub.start()
        yield hub
        hub.stop()
    finally:
        hub.kill()


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium (Debian's package) driven by Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API leaves its event loop registered as running on this thread
        # between calls, which makes Django refuse every ORM call of the test itself as
        # "from an async context". The test's own queries are plain synchronous ones.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            yield browser
            browser.close()


@pytest.fixture
def browser_page(chromium, transactional_db):
    """A fresh browser context and page.

    `page.js_errors` collects what went wrong in the page, each entry starting with its
    kind: "uncaught:" exceptions, "console:" errors, "http:" failed requests.
    Depends on `transactional_db` so that the page is closed before the database is
    flushed, not after.
    """
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.js_errors = []

    def on_console(message) -> None:
        # Reported with their URL by on_response instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            page.js_errors.append(f"console: {message.text}")

    def on_response(response) -> None:
        # Browsers ask for /favicon.ico on their own; the pages do not link one.
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            page.js_errors.append(
                f"http: {response.status} {response.request.method} {response.url}"
            )

    page.on("pageerror", lambda error: page.js_errors.append(f"uncaught: {error}"))
    page.on("console", on_console)
    page.on("response", on_response)
    yield page
    context.close()


@pytest.fixture
def layer():
    """The configured (in-memory) channel layer, emptied before and after the test."""
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    yield layer
    async_to_sync(layer.flush)()


@pytest.fixture(autouse=True)
def fresh_publish_failure_log():
    """Each test sees its first publish failure logged in full, whatever ran before."""
    from stock.events import publish_failures

    publish_failures.reset()
    yield
    publish_failures.reset()
