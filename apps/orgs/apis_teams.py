"""REST interface of teams and domains (API.md "Organizations": Teams, Domains). Thin: HTTP ↔ services.

Access: the object's organization must be one of mine (else 404, existence not leaked), then the
organization's rules and my role's permission (else 403 naming it), declared per method with
`HasPermission`; routes keyed by a team or a domain resolve it first (`resolve_organization`, kept on
`self.object`). The team list shows a member without `teams:read` the teams their grants name.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.pagination import cursor_page
from apps.orgs import perms
from apps.orgs.models import Domain, Team
from apps.orgs.services import domains as domain_services
from apps.orgs.services import teams as team_services
from apps.rbac.access import HasPermission, ListPermission, request_api_key, visible
from apps.rbac.services.decisions import Resource
from apps.rbac.services.roles import role_assignable_check


def _page_schema(name: str, item: serializers.Serializer) -> serializers.Serializer:
    return inline_serializer(name, {"results": item, "next_cursor": serializers.CharField(allow_null=True)})


# Teams ---------------------------------------------------------------------------------------------


def _team(request: Request, team_id: str) -> Team:
    """The team if the caller can see its organization (a member's, or the API key's own); 404 otherwise."""
    key = request_api_key(request)
    if key is not None:
        return team_services.team_get_in_organization(team_id=team_id, organization_id=key.organization_id)
    return team_services.team_get_for_user(team_id=team_id, user=request.user)


def _domain(request: Request, domain_id: str) -> Domain:
    key = request_api_key(request)
    if key is not None:
        return domain_services.domain_get_in_organization(domain_id=domain_id, organization_id=key.organization_id)
    return domain_services.domain_get_for_user(domain_id=domain_id, user=request.user)


class TeamObjectMixin:
    # Routes keyed by a team: the team (404 unless in one of my organizations), a grant on it counts. (No
    # docstring: drf-spectacular would make it every operation's description.)
    object: Team

    def resolve_organization(self, request: Request, team_id: str, **kwargs: str) -> tuple[object, Resource]:
        self.object = _team(request, team_id)
        return self.object.organization_id, _team_resource(self.object)


class DomainObjectMixin:
    object: Domain

    def resolve_organization(self, request: Request, domain_id: str, **kwargs: str) -> tuple[object, None]:
        self.object = _domain(request, domain_id)
        return self.object.organization_id, None


class TeamSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    organization_id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    role = serializers.SerializerMethodField()
    member_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_role(self, team: Team) -> str | None:
        return team.role.name if team.role_id else None


class TeamMemberSerializer(serializers.Serializer):
    user_id = serializers.UUIDField(source="membership.user_id")
    email = serializers.EmailField(source="membership.user.email")
    org_role = serializers.CharField(source="membership.role")
    added_at = serializers.DateTimeField(source="created_at")


class TeamInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, allow_null=True)
    role = serializers.CharField(max_length=50, required=False, allow_blank=True, allow_null=True,
                                 help_text="A role name every member of the team also holds; null or '' for none.")


def _team_resource(team: Team) -> Resource:
    """The team as a resource of access decisions: a grant on this team counts, one on another does not."""
    return Resource("team", str(team.pk))


def _team_body(team: Team) -> dict:
    if not hasattr(team, "member_count"):
        team.member_count = team.team_memberships.count()
    return TeamSerializer(team).data


class TeamListApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=ListPermission(perms.TEAMS_READ, "team"),
                                                         POST=perms.TEAMS_MANAGE)]

    @extend_schema(responses={200: _page_schema("TeamList", TeamSerializer(many=True))},
                   summary="Teams of an organization",
                   description="With `teams:read`, every team; without it, the teams on which object grants give "
                               "you `teams:read` (403 when there are none).")
    def get(self, request: Request, org_id: str) -> Response:
        teams = visible(request, team_services.team_list(organization=request.membership.organization),
                        perms.TEAMS_READ, "team")
        teams, next_cursor = cursor_page(teams, request, order=("created_at", "id"))
        return Response({"results": TeamSerializer(teams, many=True).data, "next_cursor": next_cursor})

    @extend_schema(request=TeamInputSerializer, responses={201: TeamSerializer}, summary="Create a team")
    def post(self, request: Request, org_id: str) -> Response:
        membership = request.membership
        payload = TeamInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        role_assignable_check(caller_request=request, organization=membership.organization, role_name=data.get("role"))
        team = team_services.team_create(organization=membership.organization, actor=request.user,
                                         name=data["name"], description=data.get("description") or "",
                                         role=data.get("role"))
        return Response(_team_body(team), status=status.HTTP_201_CREATED)


class TeamDetailApi(TeamObjectMixin, APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=perms.TEAMS_READ, PATCH=perms.TEAMS_MANAGE,
                                                         DELETE=perms.TEAMS_MANAGE)]

    @extend_schema(responses={200: TeamSerializer}, summary="One team of one of my organizations")
    def get(self, request: Request, team_id: str) -> Response:
        return Response(_team_body(self.object))

    @extend_schema(request=TeamInputSerializer(partial=True), responses={200: TeamSerializer},
                   summary="Rename a team, change its description or role")
    def patch(self, request: Request, team_id: str) -> Response:
        team = self.object
        payload = TeamInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        role_assignable_check(caller_request=request, organization=team.organization,
                              role_name=payload.validated_data.get("role"))
        team = team_services.team_update(team=team, actor=request.user, data=payload.validated_data)
        return Response(_team_body(team))

    @extend_schema(responses={204: None}, summary="Delete a team (its members stay in the organization)")
    def delete(self, request: Request, team_id: str) -> Response:
        team_services.team_delete(team=self.object, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamMemberListApi(TeamObjectMixin, APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=perms.TEAMS_READ)]

    @extend_schema(responses={200: _page_schema("TeamMemberList", TeamMemberSerializer(many=True))},
                   summary="Members of a team")
    def get(self, request: Request, team_id: str) -> Response:
        rows, next_cursor = cursor_page(team_services.team_member_list(team=self.object), request,
                                        order=("created_at", "id"))
        return Response({"results": TeamMemberSerializer(rows, many=True).data, "next_cursor": next_cursor})


class TeamMemberApi(TeamObjectMixin, APIView):
    permission_classes = [IsAuthenticated, HasPermission(PUT=perms.TEAMS_MANAGE, DELETE=perms.TEAMS_MANAGE)]

    @extend_schema(request=None, responses={200: TeamMemberSerializer, 201: TeamMemberSerializer},
                   summary="Put a member of the organization in the team (201 added, 200 already there)")
    def put(self, request: Request, team_id: str, user_id: str) -> Response:
        team = self.object
        if team.role_id:  # joining the team hands its role to the member
            role_assignable_check(caller_request=request, organization=team.organization, role_name=team.role.name)
        row, created = team_services.team_member_add(team=team, user_id=user_id, actor=request.user)
        return Response(TeamMemberSerializer(row).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses={204: None}, summary="Take a member out of the team")
    def delete(self, request: Request, team_id: str, user_id: str) -> Response:
        team_services.team_member_remove(team=self.object, user_id=user_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Domains -------------------------------------------------------------------------------------------

class TxtRecordSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.CharField()


class DomainSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    organization_id = serializers.UUIDField()
    domain = serializers.CharField()
    verified = serializers.SerializerMethodField()
    verified_at = serializers.DateTimeField(allow_null=True)
    auto_join = serializers.BooleanField()
    txt_record = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_verified(self, domain: Domain) -> bool:
        return domain.verified_at is not None

    @extend_schema_field(TxtRecordSerializer)
    def get_txt_record(self, domain: Domain) -> dict[str, str]:
        return {"name": domain_services.txt_record_name(domain), "value": domain_services.txt_record_value(domain)}


class DomainListApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=perms.ORG_READ, POST=perms.DOMAINS_MANAGE)]

    class InputSerializer(serializers.Serializer):
        domain = serializers.CharField(max_length=300, help_text="A bare domain name, e.g. example.com.")
        auto_join = serializers.BooleanField(required=False, default=False)

    @extend_schema(responses={200: _page_schema("DomainList", DomainSerializer(many=True))},
                   summary="Domains of an organization")
    def get(self, request: Request, org_id: str) -> Response:
        domains, next_cursor = cursor_page(domain_services.domain_list(organization=request.membership.organization),
                                           request, order=("created_at", "id"))
        return Response({"results": DomainSerializer(domains, many=True).data, "next_cursor": next_cursor})

    @extend_schema(request=InputSerializer, responses={201: DomainSerializer},
                   summary="Claim a domain; publish the returned TXT record, then verify")
    def post(self, request: Request, org_id: str) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        domain = domain_services.domain_add(organization=request.membership.organization, actor=request.user,
                                            **payload.validated_data)
        return Response(DomainSerializer(domain).data, status=status.HTTP_201_CREATED)


class DomainDetailApi(DomainObjectMixin, APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=perms.ORG_READ, PATCH=perms.DOMAINS_MANAGE,
                                                         DELETE=perms.DOMAINS_MANAGE)]

    class InputSerializer(serializers.Serializer):
        auto_join = serializers.BooleanField()

    @extend_schema(responses={200: DomainSerializer}, summary="One domain of one of my organizations")
    def get(self, request: Request, domain_id: str) -> Response:
        return Response(DomainSerializer(self.object).data)

    @extend_schema(request=InputSerializer, responses={200: DomainSerializer},
                   summary="Turn auto-join on or off (it acts once the domain is verified)")
    def patch(self, request: Request, domain_id: str) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        domain = domain_services.domain_update(domain=self.object, actor=request.user, **payload.validated_data)
        return Response(DomainSerializer(domain).data)

    @extend_schema(responses={204: None}, summary="Remove a domain (members who joined through it stay)")
    def delete(self, request: Request, domain_id: str) -> Response:
        domain_services.domain_remove(domain=self.object, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DomainVerifyApi(DomainObjectMixin, APIView):
    permission_classes = [IsAuthenticated, HasPermission(POST=perms.DOMAINS_MANAGE)]

    @extend_schema(request=None, responses={200: DomainSerializer},
                   summary="Look up the domain's TXT record now; verified when it is found",
                   description="400 `verification_failed` when the record is not (yet) published; 409 "
                               "`domain_taken` when another organization verified the domain; 503 "
                               "`dns_unavailable` when DNS did not answer.")
    def post(self, request: Request, domain_id: str) -> Response:
        domain = domain_services.domain_verify(domain=self.object, actor=request.user)
        return Response(DomainSerializer(domain).data)
