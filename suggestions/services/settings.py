"""The merchant's suggestion settings: one row (id 1), changed only here."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from stock.actors import Actor
from suggestions.errors import InvalidSuggestionSettings
from suggestions.models import SuggestionSettings
from suggestions.selectors import SETTINGS_ID

SETTINGS_FIELDS = frozenset(
    {"cost_of_lost_sale", "review_days", "source_cover_days", "service_level", "history_days"}
)


def update_settings(*, actor: Actor, **fields: object) -> SuggestionSettings:
    """Change some settings, all or nothing; the row is created with its defaults first if
    it is missing. Locks the row. Each value is checked by the model's own validators
    (`full_clean`); a refusal (InvalidSuggestionSettings) names the first bad field in
    `details["field"]` and writes nothing. A change that changes nothing writes nothing.
    """
    unknown = sorted(set(fields) - SETTINGS_FIELDS)
    if unknown:
        raise InvalidSuggestionSettings(
            f"Unknown setting(s): {', '.join(unknown)}.", {"field": unknown[0]}
        )
    with transaction.atomic():
        SuggestionSettings.objects.get_or_create(pk=SETTINGS_ID)
        row = SuggestionSettings.objects.select_for_update().get(pk=SETTINGS_ID)
        before = {name: getattr(row, name) for name in fields}
        for name, value in fields.items():
            setattr(row, name, value)
        try:
            row.full_clean()
        except ValidationError as error:
            field, messages = sorted(error.message_dict.items())[0]
            raise InvalidSuggestionSettings(
                f"{field}: {' '.join(messages)}", {"field": field}
            ) from None
        changed = [name for name in fields if getattr(row, name) != before[name]]
        if changed:
            row.updated_at = timezone.now()
            row.save(update_fields=[*sorted(changed), "updated_at"])
    return row
