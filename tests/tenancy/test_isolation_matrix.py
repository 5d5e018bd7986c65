"""The isolation matrix, generated from the URL resolver and the policy table.

Every URL pattern of the portal and the API is requested by every principal — owner, admin, staff, staff
limited to one account, a client, a client limited to one company, an owner viewing as a client limited the same
way who also owns the other agency, an operator, and a stranger — aimed at
- the principal's own agency's objects: what the policy table (`apps/tenancy/policy.py`) refuses for the
  route's declared capability must answer 403 (GET and POST); what it grants must not (GET);
- the other agency's objects: 403/404 (405 for a wrong method), and nothing of the other agency in any body;
- records of a company the limited client may not see: 403/404, and nothing of that company in any body.
No body may hold another agency's data, an account a restricted principal is not given, the hidden
company's records (for the limited client and whoever views as them), or a link whose scheme is not http(s);
no refused request may change anything. A new route is covered by adding nothing: it declares its
capability on its view (`permission`), and a new URL parameter must be taught to `aim`, else this fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from apps.companies.models import Company
from apps.credentials.models import Credential, GatewayConnection
from apps.portal.catalog import PORTAL_RESOURCES
from apps.portal.models import SavedView
from apps.push.models import OutboxEntry
from apps.sync.api import ENDPOINTS
from apps.tenancy.models import ClientAccount, Invitation, Membership, Role
from apps.tenancy.policy import Principal, declared_permission, grants
from apps.tenancy.services import invitation_create
from tests.factories import MembershipFactory, UserFactory
from tests.portal.mirror import every_resource

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

# Reachable without signing in by design, and carrying no tenant data (they declare no capability).
PUBLIC = {
    "login",
    "logout",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "password_change",  # Django's own: needs the current password; refused while viewing as (declares nothing)
    "password_change_done",
    "invitation_accept",
    "healthz",
    "readyz",
    "summaries:unsubscribe",  # a signed token is the authorisation; a bad token shows nothing (issue 10)
    "webhooks:receive",  # CallRail's deliveries: the endpoint token and the signature are the authorisation
}
ACTIONS = {"membership_action": ["update", "deactivate", "activate"], "invitation_action": ["resend", "revoke"]}
PRINCIPALS = {
    "owner": Principal.OWNER,
    "admin": Principal.ADMIN,
    "staff": Principal.STAFF,
    "restricted_staff": Principal.STAFF,
    "client_user": Principal.CLIENT,
    "limited_client": Principal.CLIENT,
    "viewing_as": Principal.VIEWING_AS,
    "superuser": Principal.OPERATOR,
    None: None,
}
REFUSED = (302, 401, 403, 404, 405)
LINK_SCHEME = re.compile(r"""(?:href|src|action|formaction|poster)\s*=\s*["']?\s*([a-z][a-z0-9+.-]*):""", re.I)
LINK_SCHEMES_ALLOWED = {"http", "https", "mailto", "tel"}


def named_patterns(patterns=None, prefix=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            yield from named_patterns(pattern.url_patterns, namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield pattern, f"{prefix}{pattern.name}"


def mirror_row(account, model_label: str, callrail_id: str):
    now = timezone.now()
    return apps.get_model(model_label).objects.create(
        client_account=account, callrail_id=callrail_id, payload={}, payload_hash="x", first_seen_at=now,
        last_seen_at=now, changed_at=now,
    )  # fmt: skip


def foreign_mirror_rows(account) -> dict[str, object]:
    """One mirrored record of every API resource in `account`, by API basename (also the API fuzz test's)."""
    return {e.basename: mirror_row(account, e.model, f"FOREIGN-{e.basename}") for e in ENDPOINTS}


@dataclass
class Side:
    """The objects a URL can be aimed at, of one side (own agency, other agency, the hidden company)."""

    account: ClientAccount
    records: dict[str, object]  # portal resource name -> one record
    company: Company
    membership: Membership
    client_membership: Membership
    invitation: Invitation
    summary: object
    entry: OutboxEntry
    job: object
    event: object
    credential: object = None  # the agency's gateway credential (apps.credentials), and one of its connections
    connection: object = None
    saved_view: object = None
    markers: list[str] = field(default_factory=list)


def side(tenant, label: str, *, records: dict | None = None) -> Side:
    from apps.bulk.models import BulkJob
    from apps.webhooks.models import WebhookEvent
    from tests.summaries.factories import make_summary

    records = records or every_resource(tenant.account, label=label)
    invitation = Invitation.objects.filter(agency=tenant.agency).first() or invitation_create(
        agency=tenant.agency, email=f"pending@{label.lower()}.test", role=Role.STAFF, client_accounts=[],
        invited_by=tenant.owner,
    )  # fmt: skip
    account, company = tenant.account, records["companies"]
    return Side(
        account=account,
        records=records,
        company=company,
        membership=tenant.staff.memberships.get(agency=tenant.agency),
        client_membership=tenant.client_user.memberships.get(agency=tenant.agency),
        invitation=invitation,
        summary=make_summary(account, company=company, emails=(f"boss@{label.lower()}.test",)),
        entry=OutboxEntry.objects.create(client_account=account, resource="tags", object_pk=0, operation="update"),
        job=BulkJob.objects.create(client_account=account, agency=tenant.agency, resource="calls", action="tags_add"),
        event=WebhookEvent.objects.create(
            client_account=account, company=company, event_type="post_call", status="rejected", raw_body="{}"
        ),
        **credential_and_connection(tenant, label),
        saved_view=SavedView.objects.create(
            client_account=account, user=tenant.staff, resource="calls", name=f"{label} view", query="spam=no"
        ),
    )


def credential_and_connection(tenant, label: str) -> dict:
    """A gateway credential of the agency with one connection. Flagged as refused, so that its pages answer
    without sending a request (no CallRail is reachable from the matrix)."""
    credential, _ = Credential.objects.get_or_create(
        agency=tenant.agency, name=f"{label} Gateway Key",
        defaults={"auth_mode": "gateway", "api_key": f"{label}-gateway-secret", "error": "refused (matrix)"},
    )  # fmt: skip
    connection, _ = GatewayConnection.objects.get_or_create(
        credential=credential, connection_id=f"{label.lower()}-connection-0001", defaults={"status": "ACTIVE"}
    )
    return {"credential": credential, "connection": connection}


def aim(name: str, pattern: URLPattern, target: Side) -> list[dict]:
    """Ways to fill the URL's parameters with `target`'s objects."""
    params = set(pattern.pattern.converters) | set(pattern.pattern.regex.groupindex)
    params.discard("format")
    short = name.split(":")[-1]
    values: dict[str, list] = {}
    for param in sorted(params):
        if param == "account_pk":
            values[param] = [target.account.pk]
        elif param == "pk" and short in ("membership_action", "member_edit"):
            values[param] = [target.membership.pk]
        elif param == "pk" and short == "impersonation_start":
            values[param] = [target.client_membership.pk]
        elif param == "pk" and short == "invitation_action":
            values[param] = [target.invitation.pk]
        elif param == "pk" and short.startswith("client-account"):
            values[param] = [target.account.pk]
        elif param == "credential_pk" or (param == "pk" and short.startswith("credential-")):  # apps.credentials
            values[param] = [target.credential.pk]
        elif param == "connection_pk":
            values[param] = [target.connection.pk]
        elif param == "pk" and short in ("call_recording", "call_text_back", "call_call_back"):
            values[param] = [target.records["calls"].pk]
        elif param == "pk" and short in ("conversation_thread", "conversation_reply", "conversation_call_back"):
            values[param] = [target.records["text_conversations"].pk]
        elif param == "pk" and short in ("form_text_back", "form_call_back"):
            values[param] = [target.records["form_submissions"].pk]
        elif param == "pk" and short == "saved_view_delete":
            values[param] = [target.saved_view.pk]
        elif param == "pk" and short.endswith("-detail"):
            endpoint = next(e for e in ENDPOINTS if e.basename == short.removesuffix("-detail"))
            values[param] = [next(r.pk for r in target.records.values() if r._meta.label == endpoint.model)]
        elif param == "action":
            values[param] = ACTIONS[short]
        elif param == "resource":
            values[param] = [r.name for r in PORTAL_RESOURCES]
        elif param == "pk":  # a record page: the record of the resource in the URL (filled in below)
            values[param] = ["<record>"]
        elif param == "summary_pk":
            values[param] = [target.summary.pk]
        elif param == "entry_pk":
            values[param] = [target.entry.pk]
        elif param == "job_pk":
            values[param] = [target.job.pk]
        elif param == "event_pk":
            values[param] = [target.event.pk]
        elif param == "company_pk":
            values[param] = [target.company.pk]
        elif param in ("token", "event_type"):
            values[param] = ["x" * 24 if param == "token" else "post_call"]
        else:
            pytest.fail(f"{name}: teach the isolation matrix how to aim parameter {param!r}")
    combos = [{}]
    for param, options in values.items():
        combos = [{**combo, param: option} for combo in combos for option in options]
    for combo in combos:
        if combo.get("pk") == "<record>":
            combo["pk"] = target.records[combo["resource"]].pk
    return combos


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def isolation_failures(where: str, response, markers: list[str], *, aimed: bool, anonymous: bool) -> list[str]:
    """What is wrong with one answer: reaching a foreign object, serving a stranger, or leaking data."""
    where = f"{where} -> {response.status_code}"
    failures = []
    if aimed and response.status_code not in REFUSED:
        failures.append(f"{where}: reached another tenant's object")
    if anonymous and response.status_code not in (302, 401, 403, 405):
        failures.append(f"{where}: answered an anonymous request")
    body = body_of(response)
    leaked = [m for m in markers if m in body]
    if leaked:
        failures.append(f"{where}: body contains {leaked}")
    schemes = {s.lower() for s in LINK_SCHEME.findall(body)} - LINK_SCHEMES_ALLOWED
    if schemes:
        failures.append(f"{where}: renders a {sorted(schemes)} link")
    return failures


def policy_failures(where: str, response, *, granted: bool, method: str) -> list[str]:
    """A refused capability answers 403 (405 for a method the route does not take); a granted one is served."""
    where = f"{where} -> {response.status_code}"
    if not granted and response.status_code not in ((403, 405) if method == "post" else (403,)):
        return [f"{where}: the policy table refuses this, the route did not"]
    if granted and (response.status_code == 403 or response.status_code >= 500):
        return [f"{where}: the policy table grants this, the route refused or failed"]
    return []


@dataclass
class World:
    tenant: object
    other: object
    own: Side
    hidden: Side
    foreign: Side
    limited_client: object
    view_as_target: Membership
    superuser: object


@pytest.fixture
def world(tenant, other_tenant, django_capture_on_commit_callbacks) -> World:
    with django_capture_on_commit_callbacks(execute=False):
        own = side(tenant, "Visible")
        hidden = side(tenant, "Hidden")
        foreign_rows = {
            r.name: mirror_row(other_tenant.account, r.model._meta.label, f"FOREIGN-{r.name}")
            for r in PORTAL_RESOURCES
        }
        foreign_rows["companies"].name = "Globex Hidden Co"
        foreign_rows["companies"].save()
        foreign = side(other_tenant, "Globex", records=foreign_rows)
    tenant.agency.client_can_annotate_calls = tenant.agency.client_can_manage_summary_emails = True
    tenant.agency.save()
    # a hostile recording link on a record everyone of the account may open
    own.records["calls"].__class__.objects.for_account(tenant.account).filter(pk=own.records["calls"].pk).update(
        recording_player="javascript:alert('matrix')", landing_page_url="javascript:alert('landing')"
    )
    limited = MembershipFactory(agency=tenant.agency, role=Role.CLIENT, client_accounts=[tenant.account])
    limited.companies.set([own.company])
    # whom the owner views as: limited the same way, and the other agency's owner besides (finding 1)
    target = MembershipFactory(agency=tenant.agency, role=Role.CLIENT, client_accounts=[tenant.account])
    target.companies.set([own.company])
    MembershipFactory(user=target.user, agency=other_tenant.agency, role=Role.OWNER)
    foreign.markers = [
        other_tenant.agency.name, other_tenant.account.name, other_tenant.other_account.name,
        other_tenant.account.callrail_account_id, other_tenant.other_account.callrail_account_id,
        other_tenant.staff.email, other_tenant.client_user.email, *(r.callrail_id for r in foreign_rows.values()),
        "Globex Gateway Key", "globex-connection-0001",
    ]  # fmt: skip
    hidden.markers = ["Hidden Main Street", "Hidden Caller", "Hidden Google Ads number", "Hidden-vip",
                      "Hidden contact form", "Hidden Texter", "Hidden alerts", "Hidden wants a quote"]  # fmt: skip
    return World(
        tenant=tenant, other=other_tenant, own=own, hidden=hidden, foreign=foreign, limited_client=limited.user,
        view_as_target=target, superuser=UserFactory(is_superuser=True, is_staff=True),
    )


def browser_for(role: str | None, world: World) -> Client:
    browser = Client()
    if role is None:
        return browser
    if role == "viewing_as":
        browser.force_login(world.tenant.owner)
        browser.post(reverse("tenancy:impersonation_start", args=[world.view_as_target.pk]))
        assert "Viewing as" in browser.get(reverse("portal:dashboard")).content.decode()
        return browser
    user = {"limited_client": world.limited_client, "superuser": world.superuser}.get(role) or getattr(
        world.tenant, role
    )
    browser.force_login(user)
    return browser


def markers_for(role: str | None, world: World) -> list[str]:
    if role == "superuser":
        return []
    markers = list(world.foreign.markers)
    if role in ("restricted_staff", "client_user", "limited_client", "viewing_as"):
        markers += [world.tenant.other_account.name, world.tenant.other_account.callrail_account_id]
    if role in LIMITED:
        markers += world.hidden.markers
    return markers


LIMITED = ("limited_client", "viewing_as")  # the client limited to one company, and whoever views as them


def is_record_route(name: str, kwargs: dict) -> bool:
    """A route naming one record of a company (so it can be aimed at the hidden company)."""
    record = "resource" in kwargs or (name.endswith("-detail") and "client-account" not in name)
    return ("pk" in kwargs and record) or bool(
        {"company_pk", "summary_pk", "event_pk"} & kwargs.keys()
    )


def routes():
    for pattern, name in named_patterns():
        if name.startswith("admin:") or name in PUBLIC or name.split(":")[-1] in PUBLIC:
            continue
        yield pattern, name


def snapshot(world: World) -> dict:
    """What no refused request may change."""
    memberships = Membership.objects.filter(agency__in=[world.tenant.agency, world.other.agency])
    return {
        "memberships": sorted(memberships.values_list("pk", "role", "is_active")),
        "invitations": sorted((i.pk, i.status) for i in Invitation.objects.all()),
        "outbox": OutboxEntry.objects.unscoped(reason="system-check").count(),
        "accounts": sorted(ClientAccount.objects.unscoped(reason="system-check").values_list(
            "pk", "name", "credential_id", "gateway_connection_id", "sync_enabled")),
        "credentials": sorted(Credential.objects.values_list("pk", "name", "base_url", "key_limit_enabled")),
        "connections": sorted(GatewayConnection.objects.values_list("pk", "status")),
    }


@pytest.mark.parametrize("role", list(PRINCIPALS))
def test_every_route_for_every_principal(role, world, django_capture_on_commit_callbacks):
    before = snapshot(world)
    browser = browser_for(role, world)
    markers = markers_for(role, world)
    held = grants(PRINCIPALS[role], world.tenant.agency)
    failures: list[str] = []
    cases = 0
    with django_capture_on_commit_callbacks(execute=False):
        for pattern, name in routes():
            undeclared = True
            targets = ("own", "foreign", "hidden") if aim(name, pattern, world.own) != [{}] else ("own",)
            for target in targets:
                if target == "foreign" and role == "superuser":
                    continue  # operators see every agency by design
                for kwargs in aim(name, pattern, getattr(world, target)):
                    if target == "hidden" and (role not in LIMITED or not is_record_route(name, kwargs)):
                        continue  # the hidden company's records, aimed at by those who may not see them
                    url = reverse(name, kwargs=kwargs)
                    resolved = get_resolver().resolve(url)
                    for method in ("get", "post"):
                        need = declared_permission(resolved.func, method, resolved.kwargs)
                        if need is not None:
                            undeclared = False
                        granted = need is not None and need in held
                        if target == "own" and method == "post" and granted:
                            continue  # a granted write would change data; refusals are what is tested here
                        cases += 1
                        response = getattr(browser, method)(url)
                        where = f"{method.upper()} {url} as {role or 'anonymous'} ({target}, needs {need})"
                        aimed = bool(kwargs) and target in ("foreign", "hidden")
                        failures += isolation_failures(where, response, markers, aimed=aimed, anonymous=not role)
                        if role and target == "own":
                            failures += policy_failures(where, response, granted=granted, method=method)
            if undeclared:
                failures.append(f"{name}: its view declares no capability (`permission` on the view class)")
    assert cases >= len(list(routes()))  # every route at least once
    assert not failures, "\n".join(failures)
    assert snapshot(world) == before


def test_the_matrix_reports_each_kind_of_leak():
    """Guard the guard: every kind of failure is caught and names the URL and the role."""
    from django.http import HttpResponse

    markers = ["Globex Dental"]
    ok = isolation_failures("GET /x/ as staff", HttpResponse("yours", status=404), markers, aimed=True, anonymous=False)
    assert ok == []
    reached = isolation_failures("GET /x/ as staff", HttpResponse("ok"), markers, aimed=True, anonymous=False)
    assert reached == ["GET /x/ as staff -> 200: reached another tenant's object"]
    leaked = isolation_failures(
        "GET /list/ as client_user", HttpResponse("<td>Globex Dental</td>"), markers, aimed=False, anonymous=False
    )
    assert leaked == ["GET /list/ as client_user -> 200: body contains ['Globex Dental']"]
    stranger = isolation_failures("GET /list/ as anonymous", HttpResponse("hi"), markers, aimed=False, anonymous=True)
    assert stranger == ["GET /list/ as anonymous -> 200: answered an anonymous request"]
    link = isolation_failures("GET /c/ as staff", HttpResponse('<a href=" JavaScript:x">'), [], aimed=False,
                              anonymous=False)  # fmt: skip
    assert link == ["GET /c/ as staff -> 200: renders a ['javascript'] link"]
    assert policy_failures("GET /m/ as staff", HttpResponse(status=200), granted=False, method="get") == [
        "GET /m/ as staff -> 200: the policy table refuses this, the route did not"
    ]
    assert policy_failures("GET /m/ as owner", HttpResponse(status=403), granted=True, method="get") == [
        "GET /m/ as owner -> 403: the policy table grants this, the route refused or failed"
    ]
    assert policy_failures("POST /m/ as staff", HttpResponse(status=405), granted=False, method="post") == []
