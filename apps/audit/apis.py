from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.catalog import event_type_list


class EventTypeListApi(APIView):
    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        description = serializers.CharField()
        fields = serializers.ListField(child=serializers.CharField())
        subscribable = serializers.BooleanField()
        realtime = serializers.BooleanField()

    @extend_schema(operation_id="audit_event_types_list", responses={200: OutputSerializer(many=True)},
                   summary="The catalog of every event type Plinto emits")
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(event_type_list(), many=True).data)
