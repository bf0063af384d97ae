"""Websocket routes. Consumers authenticate, join groups and forward; services broadcast."""

from django.urls import path

from apps.cockpit.consumers import CockpitConsumer
from apps.core.consumers import DeskStatusConsumer

websocket_urlpatterns = [
    path("ws/desk/", DeskStatusConsumer.as_asgi()),
    path("ws/cockpit/desk/", CockpitConsumer.as_asgi()),
    path("ws/cockpit/<slug:account>/", CockpitConsumer.as_asgi()),
]
