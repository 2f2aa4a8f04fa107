"""WebSocket consumers. Authentication happens in connect(); an anonymous socket is closed with 4401."""

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

CLOSE_UNAUTHENTICATED = 4401  # 4000-4999 are application codes; 4401 mirrors HTTP 401


class PingConsumer(AsyncJsonWebsocketConsumer):
    """Liveness of the realtime path for a signed-in client: `{"type": "ping"}` → `{"type": "pong"}`."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.accept()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "echo": content.get("data"), "user_id": str(self.scope["user"].pk)})
        else:
            await self.send_json({"type": "error", "code": "unknown_message",
                                  "detail": 'Send {"type": "ping", "data": ...}.'})
