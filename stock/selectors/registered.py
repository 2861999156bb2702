"""Reads that the apps above stock answer for it, registered in their `AppConfig.ready()`.

Stock never imports those apps (ARCHITECTURE.md): a transfer's hold is a reservation on a
level, and only transfers knows which part of `reserved` is its own; only transfers knows
what its lines say the ledger must hold. Each registry is keyed by name, so registering
twice (a second `ready()` in tests) replaces instead of adding.
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass

LevelKey = tuple[int, int]  # (variant_id, warehouse_id)

# (level keys) -> units held at each of them; keys without a hold may be left out.
HoldSource = Callable[[Collection[LevelKey]], dict[LevelKey, int]]

# The hold source whose units the salable breakdown shows as `held_for_transfers`.
TRANSFER_HOLDS = "transfers"

_hold_sources: dict[str, HoldSource] = {}


def register_hold_source(name: str, source: HoldSource) -> HoldSource:
    """Register (or replace) what answers `held_by(name, …)`."""
    _hold_sources[name] = source
    return source


def held_by(name: str, keys: Collection[LevelKey]) -> dict[LevelKey, int]:
    """Units held by the registered source `name` at each level key; nothing (and no query)
    when no key is given or nothing registered under that name."""
    source = _hold_sources.get(name)
    if source is None or not keys:
        return {}
    return source(keys)


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    """One disagreement a registered check found between its records and the ledger."""

    check: str
    subject: str  # what disagrees, e.g. "transfer T-1 line 7 (SHEET-Q)"
    message: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"


LedgerCheck = Callable[[], list[LedgerProblem]]

_ledger_checks: dict[str, LedgerCheck] = {}


def register_ledger_check(name: str, check: LedgerCheck) -> LedgerCheck:
    """Register (or replace) a check that `verify_ledger` runs beside the balances."""
    _ledger_checks[name] = check
    return check


def registered_ledger_problems() -> list[LedgerProblem]:
    """Every problem of every registered check, checks in registration order."""
    return [problem for check in _ledger_checks.values() for problem in check()]
