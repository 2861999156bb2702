"""The decisions of alerting, as pure functions on plain values: no database, no clock of
their own (docs/adr/0011-alerts-state-and-notification-log.md).

- `observe_below` / `step`: an alert's next state, with hysteresis and a pending duration.
- `matches`, `group_key`: routing and silences by labels.
- `inhibited`: the built-in inhibitions (a cause suppresses its symptoms).
- `decide_send`: whether a group's notification log calls for a message now, and which.
- `due_escalation_steps`: the escalation steps an unacknowledged alert has reached.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

PENDING, FIRING, RESOLVED = "pending", "firing", "resolved"


@dataclass(frozen=True, slots=True)
class Observation:
    """What one evaluation saw: whether the condition holds, and whether it has cleared
    beyond the hysteresis band (a firing alert resolves only then)."""

    holds: bool
    cleared: bool


def observe_below(value: int, threshold: int, hysteresis: int = 0) -> Observation:
    """ "Below a threshold": holds under it, clears only at threshold + hysteresis."""
    return Observation(holds=value < threshold, cleared=value >= threshold + hysteresis)


def observe_flag(holds: bool) -> Observation:
    """A condition with no band (a connector down, an order short, a transfer late)."""
    return Observation(holds=holds, cleared=not holds)


@dataclass(frozen=True, slots=True)
class Step:
    state: str | None  # None: no alert (nothing ever held)
    started_at: datetime | None
    fired: bool = False  # this step made it fire
    resolved: bool = False  # this step resolved a firing alert
    withdrawn: bool = False  # a pending alert whose condition stopped before it fired


def step(
    state: str | None,
    started_at: datetime | None,
    seen: Observation,
    *,
    pending_seconds: int,
    now: datetime,
) -> Step:
    """The alert's next state. Resolved or absent → pending when the condition holds (firing
    at once with no pending duration); pending → firing once it has held that long, or
    withdrawn when it stops holding; firing → resolved only once cleared."""
    if state == FIRING:
        if seen.cleared:
            return Step(RESOLVED, started_at, resolved=True)
        return Step(FIRING, started_at)
    if state == PENDING:
        if not seen.holds:
            return Step(RESOLVED, started_at, withdrawn=True)
        return _maybe_fire(started_at or now, pending_seconds, now)
    if not seen.holds:
        return Step(state, started_at)
    return _maybe_fire(now, pending_seconds, now)


def _maybe_fire(started_at: datetime, pending_seconds: int, now: datetime) -> Step:
    if now - started_at >= timedelta(seconds=pending_seconds):
        return Step(FIRING, started_at, fired=True)
    return Step(PENDING, started_at)


def matches(matchers: Mapping[str, object], labels: Mapping[str, object]) -> bool:
    """Every matcher equals the label of that name (compared as text); none matches all."""
    return all(str(labels.get(name, "")) == str(value) for name, value in matchers.items())


def group_key(route_id: int, group_by: Sequence[str], labels: Mapping[str, object]) -> str:
    """Alerts of one route with the same values of its group-by labels share a message."""
    values = ",".join(f"{name}={labels.get(name, '')}" for name in sorted(group_by))
    return f"{route_id}:{{{values}}}"


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What inhibition needs to know of an alert."""

    fingerprint: str
    condition: str
    variant: int | None = None
    warehouse: int | None = None
    channel: int | None = None
    connector: int | None = None


# (the cause's condition, the symptom's condition, the subject fields that must be equal)
INHIBITIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("connector_failing", "stale_data", ("connector",)),
    ("connector_failing", "drift", ("connector",)),
    ("out_of_stock", "available_below", ("variant", "warehouse")),
    ("channel_out_of_stock", "channel_salable_below", ("variant", "channel")),
)


def inhibited(alert: AlertFacts, firing: Iterable[AlertFacts]) -> bool:
    """Whether a firing cause suppresses this alert. An alert never inhibits itself."""
    for cause in firing:
        if cause.fingerprint == alert.fingerprint:
            continue
        for source, target, equal in INHIBITIONS:
            if (
                cause.condition == source
                and alert.condition == target
                and all(getattr(cause, name) == getattr(alert, name) for name in equal)
            ):
                return True
    return False


@dataclass(frozen=True, slots=True)
class GroupLog:
    """A group's notification log: what was last sent, when, and the repeat step."""

    last_firing: frozenset[str] = frozenset()
    last_resolved: frozenset[str] = frozenset()
    last_sent_at: datetime | None = None
    repeat_step: int = 0


@dataclass(frozen=True, slots=True)
class Send:
    kind: str  # "firing", "resolved" or "repeat"
    firing: frozenset[str]
    resolved: frozenset[str]
    repeat_step: int


def decide_send(
    log: GroupLog,
    firing: Iterable[str],
    resolved: Iterable[str],
    *,
    send_resolved: bool,
    repeat_steps: Sequence[int],
    now: datetime,
) -> tuple[Send | None, GroupLog]:
    """Whether the group calls for a message now (Alertmanager's reasons, plus backoff),
    and the group's log afterwards.

    `firing`: the group's firing alerts not silenced or inhibited. `resolved`: its alerts
    resolved since. A message goes out when something fires that the last one did not
    carry; when something the last one carried as firing has resolved (if the receiver
    wants resolved messages); or, nothing having changed, when the current repeat step
    has elapsed (4 h, 1 d, 1 w: each repeat moves to the next step, the last repeats).
    An alert that fired and resolved between two looks is never sent. With no message,
    the log forgets what resolved, so its next firing is news again.
    """
    firing_now = frozenset(firing)
    newly_resolved = frozenset(resolved) & log.last_firing
    send = _send(log, firing_now, newly_resolved, send_resolved, repeat_steps, now)
    if send is None:
        quiet = GroupLog(
            log.last_firing - newly_resolved, log.last_resolved, log.last_sent_at, log.repeat_step
        )
        return None, quiet
    return send, GroupLog(firing_now, newly_resolved, now, send.repeat_step)


def _send(
    log: GroupLog,
    firing_now: frozenset[str],
    newly_resolved: frozenset[str],
    send_resolved: bool,
    repeat_steps: Sequence[int],
    now: datetime,
) -> Send | None:
    if firing_now - log.last_firing:
        return Send("firing", firing_now, newly_resolved, 0)
    if newly_resolved and send_resolved:
        kind = "firing" if firing_now else "resolved"
        return Send(kind, firing_now, newly_resolved, 0)
    if not firing_now or log.last_sent_at is None or not repeat_steps:
        return None
    wait = repeat_steps[min(log.repeat_step, len(repeat_steps) - 1)]
    if now - log.last_sent_at >= timedelta(seconds=wait):
        return Send("repeat", firing_now, frozenset(), log.repeat_step + 1)
    return None


def due_escalation_steps(
    *,
    fired_at: datetime | None,
    acknowledged: bool,
    firing: bool,
    steps_after_minutes: Sequence[int],
    steps_taken: int,
    now: datetime,
) -> list[int]:
    """Positions (0-based) of the escalation steps to take now: those whose delay since the
    alert fired has passed and that were not taken yet. Acknowledged or resolved: none."""
    if not firing or acknowledged or fired_at is None:
        return []
    elapsed = now - fired_at
    return [
        position
        for position, after in enumerate(steps_after_minutes)
        if position >= steps_taken and elapsed >= timedelta(minutes=after)
    ]
