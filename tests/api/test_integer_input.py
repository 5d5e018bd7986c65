"""Integer input of the REST API out of the database's range is a 400 naming the field on every back-end.

SQLite refuses integers beyond 64 bits with an OverflowError where PostgreSQL quietly matches nothing, so an
unchecked ``?client_account=99999999999999999999`` was a 500 on the embedded default (found by the schema fuzz
test). Every integer filter of every endpoint is checked here, generically.
"""

import pytest
from django import forms
from django_filters import rest_framework as filters
from rest_framework.test import APIClient

from apps.sync.api import ENDPOINTS, MirrorFilterSet
from apps.sync.api import _viewset as viewset_for

pytestmark = pytest.mark.django_db

OUT_OF_RANGE = ("99999999999999999999", "-99999999999999999999", "1e30", "9223372036854775808")


def integer_filters(filterset: type[MirrorFilterSet]) -> list[str]:
    """Names of the filters whose value is an integer or a row id (numbers, related rows)."""
    numeric = forms.IntegerField | forms.DecimalField | forms.ModelChoiceField
    return [
        name
        for name, filter_ in filterset.base_filters.items()
        if issubclass(filter_.field_class, numeric) or isinstance(filter_, filters.NumberFilter)
    ]


def test_every_endpoint_has_integer_filters_to_check():
    checked = {endpoint.url: integer_filters(viewset_for(endpoint).filterset_class) for endpoint in ENDPOINTS}
    assert all("client_account" in names for names in checked.values()), checked
    assert "company" in checked["calls"], checked


@pytest.mark.smoke
def test_out_of_range_integer_filters_are_a_400_naming_the_field(tenant):
    client = APIClient()
    client.force_authenticate(tenant.owner)
    for endpoint in ENDPOINTS:
        for name in integer_filters(viewset_for(endpoint).filterset_class):
            for value in OUT_OF_RANGE:
                response = client.get(f"/api/v1/{endpoint.url}/", {name: value})
                assert response.status_code == 400, (endpoint.url, name, value, response.content[:300])
                assert name in response.json(), (endpoint.url, name, value, response.json())
        # in range, the same filters answer normally
        assert client.get(f"/api/v1/{endpoint.url}/", {"client_account": tenant.account.pk}).status_code == 200


@pytest.mark.smoke
def test_an_out_of_range_id_in_the_path_is_a_404(tenant):
    client = APIClient()
    client.force_authenticate(tenant.owner)
    for endpoint in ENDPOINTS:
        for value in ("99999999999999999999", "9223372036854775808"):
            response = client.get(f"/api/v1/{endpoint.url}/{value}/")
            assert response.status_code == 404, (endpoint.url, value, response.content[:300])
