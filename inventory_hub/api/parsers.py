"""The API's JSON parser: DRF's, with the body's nesting bounded (`inventory_hub.json_input`).

DRF's own parser lets a body nested some thousand levels deep raise `RecursionError`, a
500; here it is a `ParseError` (400, `malformed_json`). Values are left to the serializers,
which name the field (a NUL in an unknown key is "Unknown field", 2^70 is out of range).
"""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from inventory_hub.json_input import MAX_JSON_DEPTH, UnacceptableJson, check_json


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            parsed = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(
                f"JSON parse error - the body is nested deeper than {MAX_JSON_DEPTH} levels"
            ) from None
        try:
            check_json(parsed, values=False)
        except UnacceptableJson as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return parsed
