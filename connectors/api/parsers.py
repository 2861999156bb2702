"""Request parsers of the CSV feed upload: a multipart file (field `file`) or a text/csv
body, both read into {"file_name", "content"} with the file's bytes, so the
Idempotency-Key fingerprint covers what was uploaded, not only the file's name."""

from __future__ import annotations

from rest_framework.parsers import BaseParser, MultiPartParser

from connectors.sync.feeds import MAX_FEED_BYTES

# One byte more than allowed: enough to tell a file that is too large.
READ_LIMIT = MAX_FEED_BYTES + 1


class FeedFileParser(MultiPartParser):
    # DRF takes whatever a parser returns as request.data; the stubs narrow this class's
    # parse to the DataAndFiles that MultiPartParser itself returns.
    def parse(self, stream, media_type=None, parser_context=None) -> dict:  # type: ignore[override]
        parsed = super().parse(stream, media_type, parser_context)
        upload = parsed.files.get("file")
        if upload is not None:
            return {"file_name": upload.name or "", "content": upload.read(READ_LIMIT)}
        text = parsed.data.get("file")
        content = text.encode("utf-8")[:READ_LIMIT] if text is not None else None
        return {"file_name": "", "content": content}


class CsvBodyParser(BaseParser):
    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> dict:
        return {"file_name": "", "content": stream.read(READ_LIMIT)}
