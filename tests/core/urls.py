"""The real URLconf plus views that raise each class of error, for the error-shape tests."""

from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from plinto.urls import urlpatterns as plinto_urlpatterns


class EchoApi(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        tags = serializers.ListField(child=serializers.CharField(max_length=3), required=False)

    def post(self, request):  # noqa: ANN001, ANN201
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return Response(payload.validated_data)


class DenyAll(BasePermission):
    message = "You may not do this (needs test:forbidden)."

    def has_permission(self, request, view) -> bool:  # noqa: ANN001
        return False


class ForbiddenApi(APIView):
    permission_classes = [DenyAll]

    def get(self, request):  # noqa: ANN001, ANN201
        return Response({})


class CrashApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):  # noqa: ANN001, ANN201
        raise RuntimeError("secret internals: password=hunter2")


urlpatterns = [
    path("api/v1/_test/echo", EchoApi.as_view()),
    path("api/v1/_test/forbidden", ForbiddenApi.as_view()),
    path("api/v1/_test/crash", CrashApi.as_view()),
    *plinto_urlpatterns,
]
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
