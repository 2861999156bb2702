from collections.abc import Mapping

from rest_framework import serializers

# A StrictIntegerField that names no bound of its own accepts ±this: the largest quantity
# the hub handles (stock's MAX_QUANTITY, which a test keeps equal; this kit imports no app).
DEFAULT_INTEGER_BOUND = 1_000_000_000


class StrictSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know, naming them, and numbers
    where text is expected (DRF's CharField turns 5 into "5")."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
            not_text = {
                name: ["Must be a JSON string."]
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField)
                and isinstance(data.get(name), int | float)
                and not isinstance(data.get(name), bool)
            }
            if not_text:
                raise serializers.ValidationError(not_text)
        return super().to_internal_value(data)


def require_whole_items(items: list[dict], item: serializers.Serializer) -> None:
    """Each item of a nested list has every field its serializer requires.

    A PATCH makes DRF skip `required` in nested list items too, so a partial update must
    still check them. The errors are keyed by index, the shape DRF gives a list's items.
    """
    required = [name for name, field in item.fields.items() if field.required]
    missing = {
        index: {name: ["This field is required."] for name in required if name not in entry}
        for index, entry in enumerate(items)
        if any(name not in entry for name in required)
    }
    if missing:
        raise list_item_errors(missing)


def list_item_errors(errors: Mapping[int, dict]) -> serializers.ValidationError:
    """The errors of a list's items keyed by index, the shape DRF's own ListField raises."""
    # djangorestframework-stubs types an error mapping's keys as str only.
    return serializers.ValidationError(errors)  # type: ignore[arg-type]


def is_storable_text(text: str) -> bool:
    """PostgreSQL stores no NUL character, and no text can hold a lone UTF-16 surrogate."""
    return "\x00" not in text and not any("\ud800" <= char <= "\udfff" for char in text)


def storable(value):
    """`value` with NUL and lone surrogates in its strings (and keys) replaced by U+FFFD.

    For answers that echo the client's input: a lone surrogate cannot be encoded as UTF-8,
    and PostgreSQL's jsonb holds neither.
    """
    if isinstance(value, str):
        if is_storable_text(value):
            return value
        return "".join(
            "\ufffd" if char == "\x00" or "\ud800" <= char <= "\udfff" else char for char in value
        )
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean only: "true", 1 and "yes" are refused rather than coerced."""

    default_error_messages = {"invalid": "Must be a JSON boolean."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: "5", 5.0 and true are refused rather than coerced."""

    default_error_messages = {"type": "Must be a JSON integer."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_value", DEFAULT_INTEGER_BOUND)
        kwargs.setdefault("min_value", -DEFAULT_INTEGER_BOUND)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("type")
        return super().to_internal_value(data)


class ErrorSerializer(serializers.Serializer):
    """The shape of every error, for the OpenAPI schema."""

    class ErrorBody(serializers.Serializer):
        code = serializers.CharField(help_text="Stable and precise, such as insufficient_stock.")
        message = serializers.CharField(help_text="For people; may change.")
        details = serializers.JSONField(
            allow_null=True,
            help_text="Machine-readable specifics; for validation_error, "
            "the message(s) of each field by name.",
        )

    error = ErrorBody()
