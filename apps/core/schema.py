"""OpenAPI generation conventions shared by every app."""

from typing import Any

from drf_spectacular.openapi import AutoSchema


class PlintoAutoSchema(AutoSchema):
    """Names nested serializers after their API (`SignupApi.InputSerializer` → `SignupInput`), so the
    STYLE.md pattern of one nested Input/Output serializer per view never collides in the schema."""

    def get_serializer_name(self, serializer: Any, direction: str) -> str:
        outer, _, inner = serializer.__class__.__qualname__.rpartition(".")
        if outer:
            return outer.removesuffix("Api") + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)
