"""Domain errors of suggestions; each is a `StockError` with a stable code for the API."""

from stock.errors import StockError


class SuggestionError(StockError):
    code = "suggestion_error"


class UnknownSuggestion(SuggestionError):
    code = "unknown_suggestion"


class SuggestionNotOpen(SuggestionError):
    """The suggestion was decided already (approved, or superseded by a later review)."""

    code = "suggestion_not_open"


class LaneNotActive(SuggestionError):
    """The suggestions' lane was retired since the review."""

    code = "lane_not_active"


class InvalidSuggestionSettings(SuggestionError):
    """A setting is out of range or unknown; `details["field"]` names it."""

    code = "invalid_suggestion_settings"


# Conflicts with a suggestion's current state; the rest are 400.
CONFLICT_CODES = frozenset({SuggestionNotOpen.code})


def register_suggestion_errors() -> None:
    """Answer SuggestionErrors in the API's one error shape: 404 for an unknown suggestion,
    409 for one decided already, 400 otherwise (called from SuggestionsConfig.ready())."""
    from rest_framework import status

    from inventory_hub.api.errors import DomainErrorAnswer, register_domain_error

    def answer(error: SuggestionError) -> DomainErrorAnswer:
        answer_status: int = status.HTTP_400_BAD_REQUEST
        if error.code == UnknownSuggestion.code:
            answer_status = status.HTTP_404_NOT_FOUND
        elif error.code in CONFLICT_CODES:
            answer_status = status.HTTP_409_CONFLICT
        return DomainErrorAnswer(answer_status, error.code, error.message, error.details)

    register_domain_error(SuggestionError, answer)
