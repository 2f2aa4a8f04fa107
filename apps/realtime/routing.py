from django.urls import path

from apps.realtime.consumers import PingConsumer

websocket_urlpatterns = [
    path("ws/v1/ping", PingConsumer.as_asgi()),
]
