from django.urls import path

from .views import lanes, transfers, transitions

urlpatterns = [
    path("lanes/", lanes.LaneListView.as_view(), name="lanes"),
    path("lanes/<int:pk>/", lanes.LaneDetailView.as_view(), name="lane"),
    path("transfers/", transfers.TransferListView.as_view(), name="transfers"),
    path("transfers/<int:pk>/", transfers.TransferDetailView.as_view(), name="transfer"),
    path(
        "transfers/<int:pk>/approve/",
        transitions.ApproveTransferView.as_view(),
        name="transfer-approve",
    ),
    path("transfers/<int:pk>/pick/", transitions.PickTransferView.as_view(), name="transfer-pick"),
    path("transfers/<int:pk>/ship/", transitions.ShipTransferView.as_view(), name="transfer-ship"),
    path(
        "transfers/<int:pk>/receive/",
        transitions.ReceiveTransferView.as_view(),
        name="transfer-receive",
    ),
    path(
        "transfers/<int:pk>/receive-return/",
        transitions.ReceiveReturnView.as_view(),
        name="transfer-receive-return",
    ),
    path(
        "transfers/<int:pk>/close-short/",
        transitions.CloseShortTransferView.as_view(),
        name="transfer-close-short",
    ),
    path(
        "transfers/<int:pk>/cancel/",
        transitions.CancelTransferView.as_view(),
        name="transfer-cancel",
    ),
]
