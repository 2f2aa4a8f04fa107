from django.urls import path

from apps.audit.apis import EventTypeListApi

urlpatterns = [
    path("audit/event-types", EventTypeListApi.as_view(), name="audit-event-types"),
]
