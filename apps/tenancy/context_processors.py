from django.http import HttpRequest

from .policy import Can, capabilities
from .selectors import agency_choices


def tenancy(request: HttpRequest) -> dict:
    """The agency, the person's role, and `can`: what the policy table lets them do here."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    agency = request.agency or None
    can = capabilities(user, agency)
    return {
        "current_agency": agency,
        "current_membership": request.membership or None,
        "user_agencies": agency_choices(user=user) if Can.SWITCH_AGENCY in can else [],
        "can": can,
        "can_manage_agency": Can.MANAGE_ACCOUNTS in can,
    }
