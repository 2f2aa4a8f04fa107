"""OpenAPI generation conventions shared by every app."""

import re
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

    def get_operation_id(self) -> str:
        """`<view>_<method>` from the one-class-per-operation views (`MemberDetailApi.patch` →
        `member_detail_patch`): unique by construction, unlike ids derived from paths."""
        name = self.view.__class__.__name__.removesuffix("Api")
        if name in ("APIView", "WrappedAPIView"):
            return super().get_operation_id()
        return f"{re.sub(r'(?<!^)(?=[A-Z])', '_', name).lower()}_{self.method.lower()}"
