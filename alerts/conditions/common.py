"""The shape every condition answers in, and which rules cover a subject."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from alerts.core import Observation
from alerts.models import Rule


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's look at one subject."""

    rule: Rule
    subject: Mapping[str, object]  # {"kind": "level", "variant": 3, "warehouse": 2}
    seen: Observation
    value: int | None
    summary: str
    labels: Mapping[str, object] = field(default_factory=dict)
    details: Mapping[str, object] = field(default_factory=dict)
    variant_id: int | None = None
    warehouse_id: int | None = None
    channel_id: int | None = None
    connector_id: int | None = None


def subject_key(subject: Mapping[str, object]) -> str:
    """A subject's stable text form: its kind, then its ids by name."""
    ids = ",".join(f"{name}={subject[name]}" for name in sorted(subject) if name != "kind")
    return f"{subject['kind']}:{ids}"


class RuleIndex:
    """Active rules of some conditions, found by the scope a subject is in: a rule with no
    variant, product, warehouse, channel or connector set covers every subject."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.by_condition: dict[str, list[Rule]] = defaultdict(list)
        for rule in rules:
            self.by_condition[rule.condition].append(rule)

    def covering(
        self,
        condition: str,
        *,
        variant_id: int | None = None,
        product_id: int | None = None,
        warehouse_id: int | None = None,
        channel_id: int | None = None,
        connector_id: int | None = None,
    ) -> list[Rule]:
        wanted = {
            "variant_id": variant_id,
            "product_id": product_id,
            "warehouse_id": warehouse_id,
            "channel_id": channel_id,
            "connector_id": connector_id,
        }
        return [
            rule
            for rule in self.by_condition.get(condition, ())
            if all(
                getattr(rule, name) is None or getattr(rule, name) == value
                for name, value in wanted.items()
            )
        ]

    def __bool__(self) -> bool:
        return bool(self.by_condition)
