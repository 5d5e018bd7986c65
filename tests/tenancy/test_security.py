"""Sign-in protection: lockout on (username, address), log out everywhere, two-factor."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def sign_in(client: Client, email: str, password: str, address: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=address)


def test_lockout_is_per_username_and_address(tenant, settings):
    attacker = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(attacker, tenant.staff.email, "wrong")
    # the right password from the attacker's address is now refused too
    response = sign_in(attacker, tenant.staff.email, TEST_PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    # a colleague behind the same office address is not locked out
    assert sign_in(Client(), tenant.owner.email, TEST_PASSWORD).status_code == 302
    # nor is the real user from another address
    assert sign_in(Client(), tenant.staff.email, TEST_PASSWORD, address="10.0.0.2").status_code == 302


def test_log_out_everywhere_ends_other_sessions_but_not_this_one(tenant):
    laptop, phone = Client(), Client()
    sign_in(laptop, tenant.staff.email, TEST_PASSWORD)
    sign_in(phone, tenant.staff.email, TEST_PASSWORD, address="10.0.0.9")
    assert phone.get(reverse("portal:dashboard")).status_code == 200
    laptop.post(reverse("tenancy:security"), {"action": "logout_everywhere"})
    assert laptop.get(reverse("portal:dashboard")).status_code == 200
    assert phone.get(reverse("portal:dashboard")).status_code == 302


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_agency_can_require_two_factor_for_owners(tenant):
    tenant.agency.require_two_factor = True
    tenant.agency.save()
    owner = Client()
    sign_in(owner, tenant.owner.email, TEST_PASSWORD)
    response = owner.get(reverse("portal:dashboard"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("two_factor_setup"))
    owner.get(response.url)
    device = TOTPDevice.objects.get(user=tenant.owner)
    assert owner.post(reverse("two_factor_setup"), {"code": code_for(device)}).status_code == 302
    with CaptureQueriesContext(connection) as captured:
        assert owner.get(reverse("portal:dashboard")).status_code == 200
    assert not two_factor_checks(captured), "a code confirmed this session: nothing more to look up"
    # staff are not forced; their pages check once (device and requirement in one query)
    staff = Client()
    sign_in(staff, tenant.staff.email, TEST_PASSWORD)
    with CaptureQueriesContext(connection) as captured:
        assert staff.get(reverse("portal:dashboard")).status_code == 200
    assert len(two_factor_checks(captured)) == 1, two_factor_checks(captured)


def two_factor_checks(captured: CaptureQueriesContext) -> list[str]:
    """The page's queries asking whether a user has a device or must have one (by what they filter on)."""
    conditions = [(q["sql"], q["sql"].partition(" WHERE ")[2]) for q in captured.captured_queries]
    return [sql for sql, where in conditions if '"confirmed"' in where or '"require_two_factor"' in where]


def test_user_with_a_device_must_enter_a_code_at_each_sign_in(tenant):
    device = TOTPDevice.objects.create(user=tenant.staff, name="app", confirmed=True)
    browser = Client()
    sign_in(browser, tenant.staff.email, TEST_PASSWORD)
    assert browser.get(reverse("portal:dashboard")).url.startswith(reverse("two_factor_verify"))
    assert browser.post(reverse("two_factor_verify"), {"code": "12345"}).status_code == 400
    response = browser.post(reverse("two_factor_verify"), {"code": code_for(device), "next": "/"})
    assert response.status_code == 302
    assert browser.get(reverse("portal:dashboard")).status_code == 200
    # a wrong code is refused with a reason (django-otp then throttles further tries)
    other = Client()
    sign_in(other, tenant.staff.email, TEST_PASSWORD, address="10.0.0.3")
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = other.post(reverse("two_factor_verify"), {"code": wrong})
    assert response.status_code == 400
    assert b"not right" in response.content
    assert other.get(reverse("portal:dashboard")).status_code == 302
