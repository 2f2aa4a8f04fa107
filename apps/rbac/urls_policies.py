from django.urls import path

from apps.rbac import apis_policies as apis

urlpatterns = [
    path("organizations/<str:org_id>/policies", apis.PolicyListApi.as_view(), name="organization-policies"),
    # Before policies/<policy_id>, which would otherwise take "evaluate" for an id.
    path("policies/evaluate", apis.PolicyEvaluateApi.as_view(), name="policy-evaluate"),
    path("policies/<str:policy_id>", apis.PolicyDetailApi.as_view(), name="policy"),
]
