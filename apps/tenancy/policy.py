"""What each role may do: the one policy table of the portal.

Web views declare the capability they need (`PolicyMixin.permission`, or `permission_for(method, kwargs)`
when it depends on the request); the REST API derives its checks from the same table
(`apps.portal.api.PolicyPermission`); templates read `can` (the context processor). *Which rows* a person
sees is the scoping mechanism's job (`scoping.py`); *what they may do* with them is decided here.

Principals: the four agency roles, an operator (superuser), someone "viewing as" a client (an owner or
admin seeing the portal through a client's eyes), and a signed-in person with no role in the agency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .models import Role


class Can(StrEnum):
    """A capability. The labels are what the README's roles table and error pages say."""

    VIEW = "view"  # dashboard, account pages, lists, details and CSV exports of the rows the scope shows
    ANNOTATE_CALLS = "annotate_calls"  # note, tags, lead status and value of calls
    ANSWER_LEADS = "answer_leads"  # reply to texts, text back and call back (SMS and outbound-call budgets)
    EDIT_RECORDS = "edit_records"  # create, change and delete mirrored CallRail records
    SYNC = "sync"  # the CallRail machinery: sync now and sync runs, the outbox, webhooks
    BULK = "bulk"  # bulk actions
    SUMMARIES = "summaries"  # manage the portal summary emails of accounts
    OWN_SUMMARIES = "own_summaries"  # subscribe to or leave summary emails oneself
    AUDIT_LOG = "audit_log"
    MANAGE_ACCOUNTS = "manage_accounts"  # connect, edit, test, schedule, pause and delete client accounts
    MANAGE_MEMBERS = "manage_members"  # invite, edit and (de)activate members, up to one's own role
    AGENCY_SETTINGS = "agency_settings"  # name, branding, client permissions, two-factor, retention
    VIEW_AS = "view_as"  # see the portal as one of the agency's clients
    SYSTEM = "system"  # queues, workers and each account's health
    OWN_SECURITY = "own_security"  # one's password, two-factor sign-in and API tokens
    API = "api"  # the REST API
    SWITCH_AGENCY = "switch_agency"
    STOP_VIEW_AS = "stop_view_as"
    OPERATE = "operate"  # installation-wide: /metrics, Django admin


#: How the README's roles table names each capability (tests/security/test_policy_table.py keeps them equal).
LABELS: dict[Can, str] = {
    Can.VIEW: "see accounts, calls, reports, CSV exports (their scope)",
    Can.ANNOTATE_CALLS: "annotate calls (note, tags, lead status, value)",
    Can.ANSWER_LEADS: "answer leads (reply to texts, text back, call back)",
    Can.EDIT_RECORDS: "change CallRail records",
    Can.SYNC: "sync, outbox, webhooks",
    Can.BULK: "bulk actions",
    Can.SUMMARIES: "manage portal summary emails",
    Can.OWN_SUMMARIES: "subscribe to or leave summary emails oneself",
    Can.AUDIT_LOG: "audit log",
    Can.MANAGE_ACCOUNTS: "connect, edit, schedule, pause, delete client accounts",
    Can.MANAGE_MEMBERS: "manage members (up to one's own role)",
    Can.AGENCY_SETTINGS: "agency settings, branding, two-factor rule",
    Can.VIEW_AS: "view as a client",
    Can.SYSTEM: "system page",
    Can.OWN_SECURITY: "own password, two-factor, API tokens",
    Can.API: "REST API",
    Can.SWITCH_AGENCY: "agency switcher",
    Can.STOP_VIEW_AS: "stop viewing as",
    Can.OPERATE: "/metrics, Django admin",
}


class Principal(StrEnum):
    OWNER = Role.OWNER
    ADMIN = Role.ADMIN
    STAFF = Role.STAFF
    CLIENT = Role.CLIENT
    VIEWING_AS = "viewing_as"
    OPERATOR = "operator"
    SIGNED_IN = "signed_in"  # no role in this agency (or no agency at all)


@dataclass(frozen=True)
class Grant:
    """A capability, unconditionally or only where the agency's setting says so."""

    can: Can
    if_agency: str | None = None  # a boolean field of Agency

    def holds(self, agency: Any) -> bool:
        return self.if_agency is None or bool(getattr(agency, self.if_agency, False))


_PERSONAL = {Can.OWN_SECURITY, Can.API, Can.SWITCH_AGENCY, Can.STOP_VIEW_AS}
_STAFF = {Can.VIEW, Can.ANNOTATE_CALLS, Can.ANSWER_LEADS, Can.EDIT_RECORDS, Can.SYNC, Can.BULK, Can.SUMMARIES,
          Can.OWN_SUMMARIES, Can.AUDIT_LOG}  # fmt: skip
_ADMIN = _STAFF | {Can.MANAGE_ACCOUNTS, Can.MANAGE_MEMBERS, Can.AGENCY_SETTINGS, Can.VIEW_AS}
_CLIENT = [
    Grant(Can.VIEW),
    Grant(Can.ANNOTATE_CALLS, if_agency="client_can_annotate_calls"),
    Grant(Can.ANSWER_LEADS, if_agency="client_can_answer_leads"),
    Grant(Can.OWN_SUMMARIES, if_agency="client_can_manage_summary_emails"),
]

#: THE table. Everything not listed is refused (403).
POLICY: dict[Principal, tuple[Grant, ...]] = {
    Principal.OWNER: tuple(Grant(c) for c in sorted(_ADMIN | {Can.SYSTEM} | _PERSONAL)),
    Principal.ADMIN: tuple(Grant(c) for c in sorted(_ADMIN | _PERSONAL)),
    Principal.STAFF: tuple(Grant(c) for c in sorted(_STAFF | _PERSONAL)),
    Principal.CLIENT: (*_CLIENT, *(Grant(c) for c in sorted(_PERSONAL))),
    # Only the client's own access inside the viewer's agency: nothing personal of the client (security,
    # tokens, the API, their subscriptions), no agency switcher, no way to act as the viewer.
    Principal.VIEWING_AS: (*_CLIENT[:3], Grant(Can.STOP_VIEW_AS)),
    Principal.OPERATOR: tuple(Grant(c) for c in Can),
    Principal.SIGNED_IN: (Grant(Can.VIEW), *(Grant(c) for c in sorted(_PERSONAL))),
}

_REFUSALS: dict[Can, str] = {
    Can.ANNOTATE_CALLS: "Your agency has not allowed clients to annotate calls.",
    Can.ANSWER_LEADS: "Your agency has not allowed clients to answer leads from the portal.",
    Can.EDIT_RECORDS: "Only the agency's staff change CallRail records.",
    Can.SYNC: "Sync, the outbox and webhooks are for the agency's staff.",
    Can.BULK: "Bulk actions are for the agency's staff.",
    Can.SUMMARIES: "Only the agency's staff manage summary emails.",
    Can.OWN_SUMMARIES: "Your agency manages your summary emails for you.",
    Can.AUDIT_LOG: "The audit log is for the agency's staff.",
    Can.MANAGE_ACCOUNTS: "Only the agency's owners and admins can do this.",
    Can.MANAGE_MEMBERS: "Only the agency's owners and admins manage members.",
    Can.AGENCY_SETTINGS: "Only the agency's owners and admins change its settings.",
    Can.VIEW_AS: "Only the agency's owners and admins can view the portal as a client.",
    Can.SYSTEM: "Only the agency's owners can see the system page.",
    Can.OPERATE: "This is for the installation's operators.",
}


def refusal(can: Can) -> str:
    """Why a capability is refused, for the 403 page (viewing as a client says so)."""
    return _REFUSALS.get(can, "You may not open this page.")


#: Members are managed up to one's own role: nobody grants, changes or (de)activates a higher role.
ROLE_RANK: dict[str, int] = {Role.CLIENT: 1, Role.STAFF: 2, Role.ADMIN: 3, Role.OWNER: 4}


@dataclass(frozen=True)
class ViewAs:
    """Carried by the stand-in user of a "view as" session (see `services.view_as_user`)."""

    membership_id: int
    agency_id: int
    viewer_id: int


def principal(user: Any, agency: Any) -> Principal | None:
    """Who `user` is in `agency` (None: not signed in). Cached on the user object for the request."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    agency_id = getattr(agency, "pk", agency)
    view_as: ViewAs | None = getattr(user, "view_as", None)
    if view_as is not None:
        return Principal.VIEWING_AS if agency_id in (None, view_as.agency_id) else None
    if user.is_superuser:
        return Principal.OPERATOR
    if agency_id is None:
        return Principal.SIGNED_IN
    membership = active_membership(user, agency_id)
    return Principal(membership.role) if membership is not None else Principal.SIGNED_IN


def active_membership(user: Any, agency_id: int) -> Any:
    """The user's active membership of the active agency ``agency_id``, or None: one query, cached on the user
    object for the request (the role for ``principal``, ``request.membership`` for the pages)."""
    cache = user.__dict__.setdefault("_membership_cache", {})
    if agency_id not in cache:
        from .models import Membership

        cache[agency_id] = (
            Membership.objects.filter(user=user, agency_id=agency_id, is_active=True, agency__is_active=True)
            .order_by()
            .first()
        )
    return cache[agency_id]


def grants(who: Principal | None, agency: Any) -> frozenset[Can]:
    """Every capability `who` holds in `agency` (the agency's settings decide the conditional ones)."""
    if who is None:
        return frozenset()
    return frozenset(g.can for g in POLICY[who] if g.holds(agency))


def _agency_object(agency: Any) -> Any:
    if agency is None or hasattr(agency, "client_can_annotate_calls"):
        return agency
    from .models import Agency

    return Agency.objects.filter(pk=agency).first()


def allows(user: Any, can: Can, agency: Any = None) -> bool:
    """May `user` do `can` in `agency` (an Agency or its id)? Personal capabilities need no agency."""
    agency = _agency_object(agency)
    return can in grants(principal(user, agency), agency)


def allows_somewhere(user: Any, can: Can) -> bool:
    """Does `user` hold `can` in at least one agency (the API's first, object-free check)?"""
    if allows(user, can, None):
        return True
    if getattr(user, "view_as", None) is not None:
        return allows(user, can, user.view_as.agency_id)
    from .models import Membership

    agencies = Membership.objects.filter(user=user, is_active=True, agency__is_active=True).select_related("agency")
    return any(allows(user, can, m.agency) for m in agencies)


class Capabilities:
    """`can` in templates: `{% if can.manage_members %}`."""

    def __init__(self, held: frozenset[Can]) -> None:
        self._held = held

    def __getitem__(self, name: str) -> bool:
        return name in self._held

    def __getattr__(self, name: str) -> bool:
        if name.startswith("_"):
            raise AttributeError(name)
        return name in self._held

    def __contains__(self, name: object) -> bool:
        return name in self._held

    def __bool__(self) -> bool:
        return bool(self._held)


def capabilities(user: Any, agency: Any) -> Capabilities:
    return Capabilities(grants(principal(user, agency), agency))


# --- members: up to one's own role -------------------------------------------------------------------


def grantable_roles(user: Any, agency: Any) -> list[str]:
    """The roles `user` may give in `agency`, highest first (none without MANAGE_MEMBERS)."""
    who = principal(user, agency)
    if not allows(user, Can.MANAGE_MEMBERS, agency):
        return []
    ceiling = max(ROLE_RANK.values()) if who == Principal.OPERATOR else ROLE_RANK[who]
    return [role for role in (Role.OWNER, Role.ADMIN, Role.STAFF, Role.CLIENT) if ROLE_RANK[role] <= ceiling]


def may_manage_member(user: Any, agency: Any, role: str) -> bool:
    """May `user` change or (de)activate a member who holds `role`? Never one of a higher role."""
    return role in grantable_roles(user, agency)


# --- declarations: what a route needs --------------------------------------------------------------


def declared_permission(view_func: Callable, method: str, kwargs: dict) -> Can | None:
    """The capability a resolved view declares for `method` (None: the view declares none — public pages,
    Django's own sign-in views, the webhook receiver). The isolation matrix reads this for every route."""
    view_class = getattr(view_func, "view_class", None)
    if view_class is not None and hasattr(view_class, "permission_for"):
        return view_class.permission_for(method.upper(), kwargs)
    if getattr(view_func, "cls", None) is not None:  # Django REST framework
        return Can.API
    return getattr(view_func, "permission", None)


def requires(can: Can) -> Callable[[Callable], Callable]:
    """Declare the capability of a function view (which checks it itself, e.g. with another credential)."""

    def mark(view: Callable) -> Callable:
        view.permission = can
        return view

    return mark
