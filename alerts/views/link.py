"""The signed acknowledge link of a message: GET shows what it acknowledges and a button,
POST (with Django's CSRF check) acknowledges. The link is the credential: no sign-in is
needed, and an expired, forged or ended link is a 400 page that changes nothing."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from alerts.errors import AlertNotActive
from alerts.services.acknowledge import BadAckLink, acknowledge_alert, alert_for_token
from stock.actors import Actor


@require_http_methods(["GET", "POST"])
def acknowledge_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        alert = alert_for_token(token)
    except BadAckLink as error:
        return render(request, "alerts/acknowledge.html", {"error": error.message}, status=400)
    if request.method == "POST":
        actor = (
            Actor.for_user(request.user)
            if request.user.is_authenticated
            else Actor(kind="link", label="acknowledge link")
        )
        try:
            alert = acknowledge_alert(alert=alert, actor=actor)
        except AlertNotActive as error:
            return render(
                request,
                "alerts/acknowledge.html",
                {"alert": alert, "error": error.message},
                status=400,
            )
        return render(request, "alerts/acknowledge.html", {"alert": alert, "done": True})
    return render(request, "alerts/acknowledge.html", {"alert": alert})
