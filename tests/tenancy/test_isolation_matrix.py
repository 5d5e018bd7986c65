"""The cross-tenant isolation matrix.

Every URL pattern of the portal and the API (enumerated from the URL resolver, so a new page is covered
automatically) is requested, GET and POST, by every role of agency Acme, aimed at the objects of agency
Globex. A URL naming another tenant's object must answer 403/404 (405 for a wrong method); no answer may
contain Globex's data; no POST may change it. A failing case names the URL and the role.
A new URL parameter must be taught to `foreign_kwargs`, else this test fails and says so.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from apps.sync.api import ENDPOINTS
from apps.tenancy.models import ClientAccount, Invitation, Membership, Role
from apps.tenancy.services import invitation_create

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

# Reachable without signing in by design, and carrying no tenant data.
PUBLIC = {
    "login",
    "logout",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "invitation_accept",
    "healthz",
    "readyz",
    "summaries:unsubscribe",  # a signed token is the authorisation; a bad token shows nothing (issue 10)
}
ROLES = ["owner", "admin", "staff", "restricted_staff", "client_user", None]
ACTIONS = {"membership_action": ["update", "deactivate", "activate"], "invitation_action": ["resend", "revoke"]}


def named_patterns(patterns=None, prefix=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            yield from named_patterns(pattern.url_patterns, namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield pattern, f"{prefix}{pattern.name}"


def foreign_mirror_rows(account) -> dict[str, object]:
    """One mirrored record of every API resource in the other tenant's account, by API basename."""
    now = timezone.now()
    return {
        endpoint.basename: apps.get_model(endpoint.model).objects.create(
            client_account=account,
            callrail_id=f"FOREIGN-{endpoint.basename}",
            payload={},
            payload_hash="x",
            first_seen_at=now,
            last_seen_at=now,
            changed_at=now,
        )
        for endpoint in ENDPOINTS
    }


def foreign_webhook_values(other, mirror: dict) -> dict:
    """The other tenant's webhook endpoint token, one of its logged webhook events, and one of its companies."""
    from apps.companies.models import Company
    from apps.webhooks.models import WebhookEvent
    from apps.webhooks.services import webhook_endpoint_ensure

    company = mirror.get("company") or Company.objects.for_account(other.account).first()
    if company is None:
        now = timezone.now()
        company = Company.objects.create(
            client_account=other.account, callrail_id="FOREIGN-company", payload={}, payload_hash="x",
            first_seen_at=now, last_seen_at=now, changed_at=now,
        )  # fmt: skip
    event = WebhookEvent.objects.for_account(other.account).first() or WebhookEvent.objects.create(
        client_account=other.account, event_type="post_call", status="rejected", raw_body="{}"
    )
    return {"token": webhook_endpoint_ensure(account=other.account).token, "event_type": "post_call",
            "event_pk": event.pk, "company_pk": company.pk}  # fmt: skip


#: portal pages of one mirrored record (detail, edit, delete, push badge), aimed at the other tenant's call
RECORD_PAGES = ("resource_detail", "resource_edit", "resource_delete", "resource_badge")


def foreign_kwargs(name: str, pattern: URLPattern, other, invitation: Invitation, mirror: dict) -> list[dict]:
    """Ways to fill the URL's parameters with the other tenant's objects."""
    params = set(pattern.pattern.converters) | set(pattern.pattern.regex.groupindex)
    params.discard("format")
    if not params:
        return [{}]
    short = name.split(":")[-1]
    values: dict[str, list] = {}
    for param in params:
        if param == "account_pk":
            values[param] = [other.account.pk]
        elif param == "pk" and short in ("membership_action", "impersonation_start"):
            values[param] = [other.client_user.memberships.get().pk]
        elif param == "pk" and short == "invitation_action":
            values[param] = [invitation.pk]
        elif param == "pk" and short.startswith("client-account"):
            values[param] = [other.account.pk]
        elif param == "pk" and short.removesuffix("-detail") in mirror:
            values[param] = [mirror[short.removesuffix("-detail")].pk]
        elif param == "action":
            values[param] = ACTIONS[short]
        elif param == "resource":  # the portal's resource pages, all of them
            from apps.portal.catalog import PORTAL_RESOURCES

            values[param] = [r.name for r in PORTAL_RESOURCES]
        elif param == "pk" and short in RECORD_PAGES:  # the other tenant's call (under each resource name)
            values[param] = [mirror["call"].pk]
        elif param == "summary_pk":  # the other tenant's portal summary email (apps.summaries)
            from tests.summaries.factories import foreign_summary

            values[param] = [foreign_summary(other).pk]
        elif param == "entry_pk":  # the other tenant's outbox entry (apps.push)
            from apps.push.models import OutboxEntry

            entry = OutboxEntry.objects.create(
                client_account=other.account, resource="tags", object_pk=0, operation="update"
            )
            values[param] = [entry.pk]
        elif param == "job_pk":  # the other tenant's bulk job (apps.bulk)
            from apps.bulk.models import BulkJob

            job = BulkJob.objects.create(
                client_account=other.account, agency=other.agency, resource="calls", action="tags_add"
            )
            values[param] = [job.pk]
        elif param == "credential_pk" or (param == "pk" and short.startswith("credential")):  # apps.credentials
            values[param] = [foreign_credentials(other)[0].pk]
        elif param == "connection_pk":  # a gateway connection of the other tenant's gateway credential
            values[param] = [foreign_credentials(other)[1].pk]
        elif param in ("token", "event_type", "event_pk", "company_pk"):  # apps.webhooks
            values[param] = [foreign_webhook_values(other, mirror)[param]]
        else:
            pytest.fail(f"{name}: teach the isolation matrix how to aim parameter {param!r} at another tenant")
    combos = [{}]
    for param, options in values.items():
        combos = [{**combo, param: option} for combo in combos for option in options]
    return combos


def foreign_credentials(other):
    """The other tenant's key (renamed to be recognisable) and a gateway credential's connection."""
    from apps.credentials.models import Credential, GatewayConnection

    credential = other.account.credential
    if credential.name != "Globex Secret Agency Key":
        credential.name = "Globex Secret Agency Key"
        credential.save(update_fields=["name"])
    gateway, _ = Credential.objects.get_or_create(
        agency=other.agency, name="Globex Gateway Key", defaults={"auth_mode": "gateway", "api_key": "gw-secret"}
    )
    connection, _ = GatewayConnection.objects.get_or_create(
        credential=gateway, connection_id="globex-connection-0001", defaults={"status": "ACTIVE"}
    )
    return credential, connection


def foreign_markers(other, mirror: dict) -> list[str]:
    foreign_credentials(other)
    return [
        "Globex Secret Agency Key",
        "Globex Gateway Key",
        "globex-connection-0001",
        other.agency.name,
        other.account.name,
        other.other_account.name,
        other.account.callrail_account_id,
        other.other_account.callrail_account_id,
        other.staff.email,
        other.client_user.email,
        *(row.callrail_id for row in mirror.values()),
    ]


def isolation_failures(where: str, response, markers: list[str], *, aimed: bool, anonymous: bool) -> list[str]:
    """What is wrong with one answer: reaching a foreign object, serving a stranger, or leaking data."""
    where = f"{where} -> {response.status_code}"
    failures = []
    if aimed and response.status_code not in (302, 401, 403, 404, 405):
        failures.append(f"{where}: reached another tenant's object")
    if anonymous and response.status_code not in (302, 401, 403, 405):
        failures.append(f"{where}: answered an anonymous request")
    leaked = [m for m in markers if m in response.content.decode(errors="replace")]
    if leaked:
        failures.append(f"{where}: body contains {leaked}")
    return failures


def test_no_role_reaches_another_tenant_anywhere(tenant, other_tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        invitation = invitation_create(
            agency=other_tenant.agency,
            email="pending@globex.test",
            role=Role.STAFF,
            client_accounts=[],
            invited_by=other_tenant.owner,
        )
    mirror = foreign_mirror_rows(other_tenant.account)
    markers = foreign_markers(other_tenant, mirror)
    failures: list[str] = []
    cases = 0
    for pattern, name in named_patterns():
        if name in PUBLIC or name.startswith("admin:") or name.split(":")[-1] in PUBLIC:
            continue
        for kwargs in foreign_kwargs(name, pattern, other_tenant, invitation, mirror):
            url = reverse(name, kwargs=kwargs)
            for role in ROLES:
                browser = Client()
                if role:
                    browser.force_login(getattr(tenant, role))
                for method in ("get", "post"):
                    cases += 1
                    response = getattr(browser, method)(url)
                    where = f"{method.upper()} {url} as {role or 'anonymous'}"
                    failures += isolation_failures(where, response, markers, aimed=bool(kwargs), anonymous=not role)
    assert cases > 100
    assert not failures, "\n".join(failures)
    # and nothing of the other tenant changed
    invitation.refresh_from_db()
    assert invitation.status == "pending"
    assert all(m.is_active for m in Membership.objects.filter(agency=other_tenant.agency))
    names = set(ClientAccount.objects.for_account(other_tenant.account).values_list("name", flat=True))
    assert names == {other_tenant.account.name}


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
