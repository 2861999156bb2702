"""How the suggestion pages write days of cover and risks."""

from django import template

register = template.Library()


@register.filter
def cover_days(days: float | None) -> str:
    """'12.5 d', or '∞' for a warehouse without forecast demand (cover is unlimited)."""
    return "∞" if days is None else f"{days:.1f} d"


@register.filter
def percent(chance: float | None) -> str:
    return "\u2013" if chance is None else f"{chance:.0%}"
