"""A task and a view that enqueues it, to watch the embedded worker consume a request's task."""

import threading

from celery import shared_task
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import path


def probe_key(token: str) -> str:
    return f"probe:{token}"


@shared_task(name="tests.inventory_hub.remember_token_task")
def remember_token_task(token: str) -> None:
    cache.set(probe_key(token), threading.current_thread().name)


def enqueue_probe(request: HttpRequest, token: str) -> HttpResponse:
    remember_token_task.delay(token)
    return HttpResponse(status=202)


urlpatterns = [path("probe/<str:token>", enqueue_probe)]
