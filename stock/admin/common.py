"""Pieces the stock admin pages share."""

from collections.abc import AsyncIterator, Callable, Generator, Sequence
from functools import partial
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import admin
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from stock.csv_io import export_csv_chunks
from stock.models import ForcedStatus, StockLevel


async def _in_request_thread(chunks: Generator[str, None, None]) -> AsyncIterator[str]:
    # Under ASGI Django would read a synchronous iterator into one list before sending;
    # pulling each chunk in the request's thread keeps memory flat and the cursor usable.
    next_chunk = sync_to_async(partial(next, chunks, None))
    try:
        while (chunk := await next_chunk()) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close)()


def csv_download(request: HttpRequest, queryset: QuerySet[StockLevel]) -> StreamingHttpResponse:
    chunks = export_csv_chunks(queryset)
    content = _in_request_thread(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    filename = f"stock-levels-{timezone.now():%Y%m%d-%H%M%S}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ReadOnlyAdmin(admin.ModelAdmin):
    """History: viewable by whoever may view it, never added, changed or deleted here."""

    # Typed as ModelAdmin's, so a subclass may list actions of its own.
    actions: Sequence[Callable[..., Any] | str] | None = None

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def scope_label(forced: ForcedStatus) -> str:
    return forced.channel.code if forced.channel is not None else "all channels"
