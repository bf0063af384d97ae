"""Websocket routes. Consumers authenticate, join groups and forward; services broadcast."""

from django.urls import path

from apps.core.consumers import DeskStatusConsumer

websocket_urlpatterns = [
    path("ws/desk/", DeskStatusConsumer.as_asgi()),
]
