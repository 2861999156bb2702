"""Imports go one way: the kit below every app, warehouses < stock < connectors (< the
coming transfers and alerts). Read from the source (every import, also inside functions):
importing the modules would prove nothing, since Django loads every app anyway.

make lint's import-linter contracts say the same about module-level imports; this test
also sees the function-level imports that made the old stock -> connectors cycle.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("warehouses", "stock", "connectors", "transfers", "alerts")
# The modules that assemble the project from its apps may name them; nothing else in the kit.
PROJECT_WIRING = {
    "inventory_hub/urls.py",
    "inventory_hub/routing.py",
    "inventory_hub/asgi.py",
    "inventory_hub/celery.py",
    "inventory_hub/api/urls.py",
    # Starts the whole hub, and the demo simulation when asked to.
    "inventory_hub/management/commands/runhub.py",
}
# What each app must never import.
HIGHER = {
    "warehouses": ("stock", "connectors", "transfers", "alerts"),
    "stock": ("connectors", "transfers", "alerts"),
}
# No app imports another's pages, views or consumers: they build on the shell instead.
PAGE_MODULES = ("views", "pages", "consumers")


def imported_modules(package: str):
    """(file, line, module) for every absolute import under `package`, migrations aside."""
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if "/migrations/" in relative:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=relative)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                yield relative, node.lineno, name


def test_the_shared_kit_imports_no_app():
    offending = [
        f"{path}:{line} {name}"
        for path, line, name in imported_modules("inventory_hub")
        if name.split(".")[0] in APPS
        and path not in PROJECT_WIRING
        and not path.startswith("inventory_hub/settings/")
    ]

    assert offending == []


@pytest.mark.parametrize("app", sorted(HIGHER))
def test_a_lower_app_imports_no_higher_one(app):
    offending = [
        f"{path}:{line} {name}"
        for path, line, name in imported_modules(app)
        if name.split(".")[0] in HIGHER[app]
    ]

    assert offending == []


@pytest.mark.parametrize("app", APPS)
def test_no_app_imports_another_apps_pages(app):
    if not (ROOT / app).is_dir():
        pytest.skip(f"{app} has no code yet")
    offending = [
        f"{path}:{line} {name}"
        for path, line, name in imported_modules(app)
        if name.split(".")[0] in APPS
        and name.split(".")[0] != app
        and any(part in PAGE_MODULES for part in name.split(".")[1:])
    ]

    assert offending == []
