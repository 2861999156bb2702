from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, CursorPagination, PageNumberPagination

PAGE_SIZE_PARAM = "page_size"


class _StrictPageSize(BasePagination):
    """page_size from 1 to max_page_size; anything else is a 400 naming it.

    DRF falls back to the default size for `page_size=abc` or `0`, and quietly cuts a size
    above the maximum: a client would never learn that it asked for something else.
    """

    page_size: int
    # Typed as DRF's paginators type it (None: no such parameter); ours always has one.
    page_size_query_param: str | None = PAGE_SIZE_PARAM
    max_page_size: int

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(PAGE_SIZE_PARAM)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError(
                {PAGE_SIZE_PARAM: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == PAGE_SIZE_PARAM:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
                parameter["description"] = (
                    f"Results per page: 1 to {self.max_page_size} (default {self.page_size})."
                )
        return parameters


class PagePagination(_StrictPageSize, PageNumberPagination):
    page_size = 50
    max_page_size = 500

    def get_page_number(self, request, paginator):
        # DRF reads `?page=` as page 1; the schema says a page is a number.
        if request.query_params.get(self.page_query_param) == "":
            raise ValidationError(
                {self.page_query_param: ["Give a page number, or leave the parameter out."]}
            )
        return super().get_page_number(request, paginator)


class LedgerCursorPagination(_StrictPageSize, CursorPagination):
    """The ledger grows without bound: a cursor keeps deep pages as cheap as the first."""

    page_size = 100
    max_page_size = 1000
    ordering = "-id"
