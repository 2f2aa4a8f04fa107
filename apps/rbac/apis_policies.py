"""REST interface of policies (API.md "Access control": Policies). Thin: HTTP ↔ services.

Access: the policy's organization must be one of mine (or the API key's own), else 404; then
`policies:read` to read and evaluate, `policies:manage` to write (403 naming it), declared per method with
`HasPermission` (apps.rbac.access).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.pagination import cursor_page
from apps.rbac import perms
from apps.rbac.access import HasPermission, request_api_key, request_facts
from apps.rbac.models import Policy, PolicyEffect
from apps.rbac.services import policies as services
from apps.rbac.services.roles import request_caller


class PolicySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    organization_id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    effect = serializers.ChoiceField(choices=PolicyEffect.choices)
    priority = serializers.IntegerField()
    actions = serializers.ListField(child=serializers.CharField())
    resources = serializers.ListField(child=serializers.CharField())
    subjects = serializers.ListField(child=serializers.CharField())
    condition = serializers.CharField()
    enabled = serializers.BooleanField()
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PolicyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, allow_null=True)
    effect = serializers.ChoiceField(choices=PolicyEffect.choices)
    priority = serializers.IntegerField(min_value=0, max_value=services.MAX_PRIORITY, required=False,
                                        help_text="0–1000; orders the trace and names the reason. Deny overrides "
                                                  "allow whatever the priorities.")
    actions = serializers.ListField(child=serializers.CharField(max_length=100), max_length=services.MAX_ACTIONS,
                                    help_text="Permission patterns: members:invite, members:*, *:read, *.")
    resources = serializers.ListField(child=serializers.CharField(max_length=200), required=False,
                                      max_length=services.MAX_RESOURCES,
                                      help_text="`type:id` patterns (team:*, team:<uuid>) or `*`; empty = any.")
    subjects = serializers.ListField(child=serializers.CharField(max_length=100), required=False,
                                     max_length=services.MAX_SUBJECTS,
                                     help_text="user:<id>, team:<id>, role:<name>, apikey:<id> or `*`; "
                                               "empty = everyone.")
    condition = serializers.CharField(max_length=2000, required=False, allow_blank=True, allow_null=True,
                                      help_text="A CEL expression over subject, resource, request and organization "
                                                "(docs/access-control.md); empty = always.")
    enabled = serializers.BooleanField(required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


def _page_schema(name: str, item: serializers.Serializer) -> serializers.Serializer:
    return inline_serializer(name, {"results": item, "next_cursor": serializers.CharField(allow_null=True)})


class PolicyListApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=perms.POLICIES_READ, POST=perms.POLICIES_MANAGE)]

    @extend_schema(responses={200: _page_schema("PolicyList", PolicySerializer(many=True))},
                   summary="Policies of an organization")
    def get(self, request: Request, org_id: str) -> Response:
        rows, next_cursor = cursor_page(services.policy_list(organization=request.membership.organization), request,
                                        order=("created_at", "id"))
        return Response({"results": PolicySerializer(rows, many=True).data, "next_cursor": next_cursor})

    @extend_schema(request=PolicyInputSerializer, responses={201: PolicySerializer}, summary="Create a policy",
                   description="400 names the field at fault; an invalid `condition` carries the parser's message. "
                               "409 `policy_name_taken` when the organization has a policy of that name; 403 "
                               "`privilege_escalation` when an allow policy covers a permission you do not hold.")
    def post(self, request: Request, org_id: str) -> Response:
        payload = PolicyInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        organization = request.membership.organization
        policy = services.policy_create(organization=organization, actor=request.user,
                                        caller=request_caller(request, organization), facts=request_facts(request),
                                        **payload.validated_data)
        return Response(PolicySerializer(policy).data, status=status.HTTP_201_CREATED)


class PolicyDetailApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=perms.POLICIES_READ, PATCH=perms.POLICIES_MANAGE,
                                                         DELETE=perms.POLICIES_MANAGE)]
    object: Policy

    def resolve_organization(self, request: Request, policy_id: str) -> tuple[object, None]:
        self.object = services.policy_get_for_caller(policy_id=policy_id, user=request.user,
                                                     api_key=request_api_key(request))
        return self.object.organization_id, None

    @extend_schema(responses={200: PolicySerializer}, summary="One policy of one of my organizations")
    def get(self, request: Request, policy_id: str) -> Response:
        return Response(PolicySerializer(self.object).data)

    @extend_schema(request=PolicyInputSerializer(partial=True), responses={200: PolicySerializer},
                   summary="Change a policy (only the fields sent)")
    def patch(self, request: Request, policy_id: str) -> Response:
        policy = self.object
        payload = PolicyInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        policy = services.policy_update(policy=policy, actor=request.user, data=payload.validated_data,
                                        caller=request_caller(request, policy.organization),
                                        facts=request_facts(request))
        return Response(PolicySerializer(policy).data)

    @extend_schema(responses={204: None}, summary="Delete a policy")
    def delete(self, request: Request, policy_id: str) -> Response:
        services.policy_delete(policy=self.object, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EvaluationResourceSerializer(serializers.Serializer):
    type = serializers.CharField(max_length=50)
    id = serializers.CharField(max_length=100)


class EvaluationSubjectSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["user", "api_key"])
    id = serializers.CharField(max_length=100)


class EvaluationContextSerializer(serializers.Serializer):
    ip = serializers.IPAddressField(required=False)
    time = serializers.DateTimeField(required=False, help_text="RFC 3339; default now.")
    mfa_age = serializers.IntegerField(min_value=-1, required=False,
                                       help_text="Seconds since the last second factor; -1 = none.")
    user_agent = serializers.CharField(max_length=512, required=False, allow_blank=True)
    attributes = serializers.DictField(required=False, allow_null=True,
                                       help_text="What conditions see as `request.context` (as in POST /rbac/check).")


class PolicyEvaluateApi(APIView):
    # The organization is named in the body: the body is validated first (400 before 404 / 403, as ever).
    permission_classes = [IsAuthenticated, HasPermission(POST=perms.POLICIES_READ)]
    payload: dict

    def resolve_organization(self, request: Request) -> tuple[object, None]:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        self.payload = payload.validated_data
        return self.payload["organization_id"], None

    class InputSerializer(serializers.Serializer):
        organization_id = serializers.CharField(max_length=100)
        permission = serializers.CharField(max_length=100)
        resource = EvaluationResourceSerializer(required=False, allow_null=True,
                                                help_text="The object checked; default the organization itself.")
        subject = EvaluationSubjectSerializer(required=False, allow_null=True,
                                              help_text="Whom to ask about; default me.")
        context = EvaluationContextSerializer(required=False, help_text="Request facts to try; default this request's.")

    class OutputSerializer(serializers.Serializer):
        allowed = serializers.BooleanField()
        reason = serializers.CharField()
        decision = serializers.ListField(child=serializers.DictField(),
                                         help_text="Each role, grant and policy considered, and why.")

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer},
                   summary="Explain a decision: every role, grant and policy considered, and why",
                   description="Needs `policies:read` in the organization. Another subject must be an active member "
                               "or a live API key of that organization (404 otherwise). An unknown permission or "
                               "resource type answers 400.")
    def post(self, request: Request) -> Response:
        data = self.payload
        caller = services.evaluation_subject(organization=request.membership.organization, subject=data.get("subject"),
                                             user=request.user, api_key=request_api_key(request))
        facts = services.evaluation_facts(defaults=request_facts(request), context=data.get("context"))
        decision = services.policy_evaluate(caller=caller, permission=data["permission"],
                                            resource=data.get("resource"), facts=facts)
        return Response(self.OutputSerializer({"allowed": decision.allowed, "reason": decision.reason,
                                               "decision": decision.trace}).data)
