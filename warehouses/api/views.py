"""Warehouses and sales channels over HTTP: list, read, create, update and deactivate.

Neither is ever deleted, because stock history refers to them: DELETE answers 405 and
`POST …/deactivate/` (or `PATCH {"is_active": false}`) retires one. Writes are for ops
staff only (the default permission).
"""

from django.db import IntegrityError
from django.db.models import Prefetch, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_hub.api.errors import ApiError
from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    error_response,
    validated,
)
from inventory_hub.api.serializers import is_storable_text
from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse
from warehouses.services import create_channel, create_warehouse, update_channel, update_warehouse

from .filters import ChannelFilter, WarehouseFilter
from .serializers import ChannelInput, ChannelOutput, WarehouseInput, WarehouseOutput

# Updates are not idempotent-keyed (a PUT or PATCH is naturally safe to repeat).
UPDATE_ERRORS = {code: response for code, response in WRITE_ERRORS.items() if code != 422}


def _code_taken(error: IntegrityError) -> serializers.ValidationError:
    """A concurrent create took the code between our check and our insert."""
    if "_code_" not in str(error):
        raise error
    return serializers.ValidationError({"code": ["That code is already taken."]})


# --- Warehouses ------------------------------------------------------------------------------


def _warehouse(code: str) -> Warehouse:
    try:
        if not is_storable_text(code):
            raise Warehouse.DoesNotExist
        return Warehouse.objects.get(code=code)
    except Warehouse.DoesNotExist:
        raise ApiError(
            status_code=status.HTTP_404_NOT_FOUND,
            code="unknown_warehouse",
            message=f"No warehouse has code {code!r}.",
            details={"warehouse": code},
        ) from None


WAREHOUSE_NOT_FOUND = {404: error_response("unknown_warehouse")}


class WarehouseListView(generics.ListAPIView):
    queryset = Warehouse.objects.order_by("code")
    serializer_class = WarehouseOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = WarehouseFilter

    @extend_schema(
        operation_id="warehouses_list",
        summary="List warehouses",
        responses={200: WarehouseOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="warehouses_create",
        summary="Create a warehouse",
        request=WarehouseInput,
        responses={201: WarehouseOutput, **WRITE_ERRORS},
    )
    @idempotent
    def post(self, request):
        data = validated(WarehouseInput, request)
        try:
            warehouse = create_warehouse(**data)
        except IntegrityError as error:
            raise _code_taken(error) from error
        return Response(WarehouseOutput(warehouse).data, status=status.HTTP_201_CREATED)


class WarehouseDetailView(APIView):
    @extend_schema(
        operation_id="warehouses_retrieve",
        summary="Read one warehouse by its code",
        responses={200: WarehouseOutput, **READ_ERRORS, **WAREHOUSE_NOT_FOUND},
    )
    def get(self, request, code: str):
        return Response(WarehouseOutput(_warehouse(code)).data)

    @extend_schema(
        operation_id="warehouses_replace",
        summary="Replace a warehouse's details, the code repeated unchanged",
        request=WarehouseInput,
        responses={200: WarehouseOutput, **UPDATE_ERRORS, **WAREHOUSE_NOT_FOUND},
    )
    def put(self, request, code: str):
        return self._update(request, code, partial=False)

    @extend_schema(
        operation_id="warehouses_update",
        summary="Change some of a warehouse's details; is_active=false deactivates it",
        request=WarehouseInput,
        responses={200: WarehouseOutput, **UPDATE_ERRORS, **WAREHOUSE_NOT_FOUND},
    )
    def patch(self, request, code: str):
        return self._update(request, code, partial=True)

    def _update(self, request, code: str, *, partial: bool) -> Response:
        warehouse = _warehouse(code)
        data = validated(WarehouseInput, request, instance=warehouse, partial=partial)
        data.pop("code", None)
        warehouse = update_warehouse(warehouse=warehouse, **data)
        return Response(WarehouseOutput(warehouse).data)


class WarehouseDeactivateView(APIView):
    @extend_schema(
        operation_id="warehouses_deactivate",
        summary="Deactivate a warehouse: it takes no new stock; its history stays",
        request=None,
        responses={200: WarehouseOutput, **UPDATE_ERRORS, **WAREHOUSE_NOT_FOUND},
    )
    def post(self, request, code: str):
        warehouse = update_warehouse(warehouse=_warehouse(code), is_active=False)
        return Response(WarehouseOutput(warehouse).data)


# --- Sales channels --------------------------------------------------------------------------


def _channels() -> QuerySet[SalesChannel]:
    links = ChannelWarehouse.objects.select_related("warehouse").order_by(
        "priority", "warehouse__code"
    )
    return SalesChannel.objects.prefetch_related(Prefetch("links", queryset=links))


def _channel(code: str) -> SalesChannel:
    try:
        if not is_storable_text(code):
            raise SalesChannel.DoesNotExist
        return _channels().get(code=code)
    except SalesChannel.DoesNotExist:
        raise ApiError(
            status_code=status.HTTP_404_NOT_FOUND,
            code="unknown_channel",
            message=f"No sales channel has code {code!r}.",
            details={"channel": code},
        ) from None


CHANNEL_NOT_FOUND = {404: error_response("unknown_channel")}


class ChannelListView(generics.ListAPIView):
    serializer_class = ChannelOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = ChannelFilter

    def get_queryset(self) -> QuerySet[SalesChannel]:
        return _channels().order_by("code")

    @extend_schema(
        operation_id="channels_list",
        summary="List sales channels with their warehouse links",
        responses={200: ChannelOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="channels_create",
        summary="Create a sales channel and its warehouse links",
        request=ChannelInput,
        responses={201: ChannelOutput, **WRITE_ERRORS},
    )
    @idempotent
    def post(self, request):
        data = validated(ChannelInput, request)
        try:
            channel = create_channel(links=data.pop("warehouses", []), **data)
        except IntegrityError as error:
            raise _code_taken(error) from error
        return Response(ChannelOutput(_channel(channel.code)).data, status=status.HTTP_201_CREATED)


class ChannelDetailView(APIView):
    @extend_schema(
        operation_id="channels_retrieve",
        summary="Read one sales channel by its code, with its warehouse links",
        responses={200: ChannelOutput, **READ_ERRORS, **CHANNEL_NOT_FOUND},
    )
    def get(self, request, code: str):
        return Response(ChannelOutput(_channel(code)).data)

    @extend_schema(
        operation_id="channels_replace",
        summary="Replace a channel's settings, the code repeated unchanged",
        description="`warehouses`, when given, replaces every link in one transaction.",
        request=ChannelInput,
        responses={200: ChannelOutput, **UPDATE_ERRORS, **CHANNEL_NOT_FOUND},
    )
    def put(self, request, code: str):
        return self._update(request, code, partial=False)

    @extend_schema(
        operation_id="channels_update",
        summary="Change some of a channel's settings or its links",
        description="`warehouses`, when given, replaces every link in one transaction.",
        request=ChannelInput,
        responses={200: ChannelOutput, **UPDATE_ERRORS, **CHANNEL_NOT_FOUND},
    )
    def patch(self, request, code: str):
        return self._update(request, code, partial=True)

    def _update(self, request, code: str, *, partial: bool) -> Response:
        channel = _channel(code)
        data = validated(ChannelInput, request, instance=channel, partial=partial)
        data.pop("code", None)
        update_channel(channel=channel, links=data.pop("warehouses", None), **data)
        return Response(ChannelOutput(_channel(code)).data)


class ChannelDeactivateView(APIView):
    @extend_schema(
        operation_id="channels_deactivate",
        summary="Deactivate a sales channel: it sells nothing more; its history stays",
        request=None,
        responses={200: ChannelOutput, **UPDATE_ERRORS, **CHANNEL_NOT_FOUND},
    )
    def post(self, request, code: str):
        update_channel(channel=_channel(code), is_active=False)
        return Response(ChannelOutput(_channel(code)).data)
