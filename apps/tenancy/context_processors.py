from django.http import HttpRequest

from .selectors import agencies_for_user, user_can_manage_agency


def tenancy(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    agency = request.agency or None
    return {
        "current_agency": agency,
        "current_membership": request.membership or None,
        "user_agencies": agencies_for_user(user=user),
        "can_manage_agency": user_can_manage_agency(user=user, agency=agency),
    }
