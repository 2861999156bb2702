"""The settings form of the Suggestions page (ops staff)."""

from django import forms

from suggestions.models import SuggestionSettings


class SettingsForm(forms.ModelForm):
    class Meta:
        model = SuggestionSettings
        fields = ["cost_of_lost_sale", "review_days", "source_cover_days", "service_level"]
        labels = {
            "cost_of_lost_sale": "Cost of a lost sale",
            "review_days": "Days between reviews",
            "source_cover_days": "Days of cover a source keeps",
            "service_level": "Service level",
        }
        help_texts = {
            "cost_of_lost_sale": "Margin and goodwill lost when a customer finds no stock; "
            "higher moves more stock to avoid stockouts.",
        }
