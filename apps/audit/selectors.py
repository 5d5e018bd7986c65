from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.tenancy.scoping import access_scope

from .models import AuditEvent


def audit_event_list(*, user, agency) -> QuerySet[AuditEvent]:
    """Events of the agency the user may see: managers see all, others only their accounts' events."""
    scope = access_scope(user, agency)
    if scope.all_agencies or agency.pk in scope.agency_ids:
        condition = Q(agency=agency)
    else:
        condition = Q(agency=agency, client_account_id__in=sorted(scope.account_ids))
    return AuditEvent.objects.filter(condition).select_related("actor", "impersonator")
