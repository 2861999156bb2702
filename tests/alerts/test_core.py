"""The pure decisions of alerting: state with hysteresis and pending, routing labels,
inhibition, the send decision with repeat backoff, and escalation steps."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from alerts.core import (
    PENDING,
    RESOLVED,
    AlertFacts,
    GroupLog,
    decide_send,
    due_escalation_steps,
    group_key,
    inhibited,
    matches,
    observe_below,
    observe_flag,
    step,
)

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
HOUR, DAY, WEEK = 3600, 86400, 7 * 86400


def run(values, *, threshold=10, hysteresis=5, pending_seconds=0, every=timedelta(minutes=1)):
    """Feed values one per `every`; return the (kind, index) of each firing/resolution."""
    state, started, events = None, None, []
    for index, value in enumerate(values):
        now = T0 + every * index
        result = step(
            state,
            started,
            observe_below(value, threshold, hysteresis),
            pending_seconds=pending_seconds,
            now=now,
        )
        if result.fired:
            events.append(("fired", index))
        if result.resolved:
            events.append(("resolved", index))
        if result.state in (None, RESOLVED) or result.resolved or result.withdrawn:
            started = None if result.state != PENDING else result.started_at
        else:
            started = result.started_at
        state = result.state
    return events


class TestState:
    def test_a_value_oscillating_inside_the_band_fires_once_and_resolves_once(self):
        values = [12, 9, 11, 9, 14, 8, 13, 9, 15, 16]
        assert run(values) == [("fired", 1), ("resolved", 8)]

    def test_without_hysteresis_each_crossing_counts(self):
        assert run([12, 9, 11, 9], hysteresis=0) == [
            ("fired", 1),
            ("resolved", 2),
            ("fired", 3),
        ]

    def test_a_pending_duration_fires_only_if_the_condition_holds_that_long(self):
        # Below for 2 minutes, back up, then below for 5: only the second fires.
        values = [9, 9, 12, 9, 9, 9, 9, 9, 9]
        assert run(values, pending_seconds=300, hysteresis=0) == [("fired", 8)]

    def test_a_pending_alert_that_stops_holding_is_withdrawn_not_resolved(self):
        first = step(None, None, observe_flag(True), pending_seconds=60, now=T0)
        assert (first.state, first.fired) == (PENDING, False)
        gone = step(PENDING, T0, observe_flag(False), pending_seconds=60, now=T0)
        assert (gone.state, gone.withdrawn, gone.resolved) == (RESOLVED, True, False)

    @given(st.lists(st.integers(min_value=-5, max_value=30), max_size=60))
    def test_firings_and_resolutions_alternate_and_need_a_crossing_of_the_band(self, values):
        events = run(values)
        kinds = [kind for kind, _ in events]
        assert kinds == ["fired", "resolved"] * (len(kinds) // 2) + ["fired"] * (len(kinds) % 2)
        for kind, index in events:
            assert values[index] < 10 if kind == "fired" else values[index] >= 15


class TestLabels:
    def test_matchers_and_group_keys(self):
        labels = {"warehouse": "NORTH", "severity": "critical", "sku": "MUG"}
        assert matches({}, labels)
        assert matches({"warehouse": "NORTH", "severity": "critical"}, labels)
        assert not matches({"warehouse": "SOUTH"}, labels)
        assert not matches({"channel": "web"}, labels)
        assert group_key(3, ["warehouse"], labels) == "3:{warehouse=NORTH}"
        assert group_key(3, ["warehouse"], labels) == group_key(
            3, ["warehouse"], {**labels, "sku": "CUP"}
        )
        assert group_key(3, [], labels) == "3:{}"


class TestInhibition:
    def test_a_cause_suppresses_its_own_symptoms_only(self):
        down = AlertFacts("a", "connector_failing", connector=1)
        stale, other_stale = (
            AlertFacts("b", "stale_data", connector=1),
            AlertFacts("c", "stale_data", connector=2),
        )
        drift = AlertFacts("d", "drift", connector=1)
        assert inhibited(stale, [down]) and inhibited(drift, [down])
        assert not inhibited(other_stale, [down])
        assert not inhibited(down, [down])

    def test_out_of_stock_suppresses_low_stock_of_the_same_level(self):
        out = AlertFacts("o", "out_of_stock", variant=1, warehouse=1)
        low = AlertFacts("l", "available_below", variant=1, warehouse=1)
        low_elsewhere = AlertFacts("m", "available_below", variant=1, warehouse=2)
        channel_out = AlertFacts("p", "channel_out_of_stock", variant=1, channel=4)
        channel_low = AlertFacts("q", "channel_salable_below", variant=1, channel=4)
        assert inhibited(low, [out]) and not inhibited(low_elsewhere, [out])
        assert inhibited(channel_low, [channel_out]) and not inhibited(channel_low, [out])


class TestSendDecision:
    STEPS = [4 * HOUR, DAY, WEEK]

    def decide(self, log, firing, resolved=(), *, at, send_resolved=True):
        return decide_send(
            log,
            firing,
            resolved,
            send_resolved=send_resolved,
            repeat_steps=self.STEPS,
            now=T0 + timedelta(seconds=at),
        )

    def test_new_firing_then_repeats_back_off_then_resolved(self):
        send, log = self.decide(GroupLog(), {"a", "b"}, at=0)
        assert (send.kind, send.firing, send.repeat_step) == ("firing", {"a", "b"}, 0)
        sent_at = []
        for at in range(60, 3 * WEEK, 600):  # the group is looked at every 10 minutes
            send, log = self.decide(log, {"a", "b"}, at=at)
            if send:
                assert send.kind == "repeat"
                sent_at.append(at)
        gaps = [later - earlier for earlier, later in zip([0, *sent_at], sent_at, strict=False)]
        # 4 h, then a day, then weekly from then on, each at the first look after it.
        assert [round(gap / HOUR) for gap in gaps] == [4, 24, 168, 168]
        send, log = self.decide(log, set(), {"a", "b"}, at=3 * WEEK)
        assert (send.kind, send.resolved) == ("resolved", {"a", "b"})
        assert self.decide(log, set(), {"a", "b"}, at=3 * WEEK + 60)[0] is None

    def test_a_new_alert_in_the_group_is_sent_at_once_and_restarts_the_backoff(self):
        _, log = self.decide(GroupLog(), {"a"}, at=0)
        _, log = self.decide(log, {"a"}, at=4 * HOUR)
        assert log.repeat_step == 1
        send, log = self.decide(log, {"a", "b"}, at=4 * HOUR + 60)
        assert (send.kind, send.firing, log.repeat_step) == ("firing", {"a", "b"}, 0)

    def test_an_alert_that_fired_and_resolved_between_looks_is_never_sent(self):
        assert self.decide(GroupLog(), set(), {"a"}, at=0) == (None, GroupLog())

    def test_no_resolved_message_for_a_receiver_that_wants_none_but_the_log_forgets_it(self):
        _, log = self.decide(GroupLog(), {"a"}, at=0, send_resolved=False)
        send, log = self.decide(log, set(), {"a"}, at=60, send_resolved=False)
        assert send is None and log.last_firing == frozenset()
        send, _ = self.decide(log, {"a"}, at=120, send_resolved=False)
        assert send.kind == "firing"


class TestEscalation:
    def test_steps_come_due_in_order_and_stop_on_acknowledgement(self):
        def due(minutes, taken=0, acknowledged=False, firing=True):
            return due_escalation_steps(
                fired_at=T0,
                acknowledged=acknowledged,
                firing=firing,
                steps_after_minutes=[0, 15, 45],
                steps_taken=taken,
                now=T0 + timedelta(minutes=minutes),
            )

        assert due(0) == [0]
        assert due(16, taken=1) == [1]
        assert due(50, taken=1) == [1, 2]
        assert due(50, taken=3) == []
        assert due(50, taken=1, acknowledged=True) == []
        assert due(50, taken=1, firing=False) == []
