"""Query filters for the suggestions list."""

import django_filters

from inventory_hub.api.filters import StrictFilterSet
from suggestions.models import Suggestion, SuggestionState


class SuggestionFilter(StrictFilterSet):
    state = django_filters.MultipleChoiceFilter(
        choices=SuggestionState.choices, help_text="Repeat to match any of several."
    )
    lane = django_filters.NumberFilter(field_name="lane_id", help_text="Lane id.")
    source = django_filters.CharFilter(field_name="source__code", help_text="Warehouse code.")
    destination = django_filters.CharFilter(
        field_name="destination__code", help_text="Warehouse code."
    )
    sku = django_filters.CharFilter(field_name="variant__sku", help_text="Variant SKU.")

    class Meta:
        model = Suggestion
        fields = ["state", "lane", "source", "destination", "sku"]
