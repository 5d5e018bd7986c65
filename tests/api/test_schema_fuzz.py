"""Schemathesis against the OpenAPI schema: generated requests never cause a 500, answers match the schema."""

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from apps.sync.api import ENDPOINTS
from apps.tenancy.services import api_token_create
from tests.tenancy.test_isolation_matrix import foreign_mirror_rows

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))

pytestmark = [pytest.mark.django_db(transaction=True)]

#: Seconds a generated request may take: a liveness bound, not a speed target. Generous, because the suite runs
#: in parallel on a loaded machine (schemathesis's default of 10 s was once hit at load 9).
REQUEST_TIMEOUT = 120


@pytest.fixture
def api_token(tenant, other_tenant, live_server):
    """An owner's token, with one mirrored record of every resource on each side of the tenant line."""
    foreign_mirror_rows(tenant.account)
    foreign_mirror_rows(other_tenant.account)
    _, key = api_token_create(user=tenant.owner, name="fuzz")
    return key


#: Every operation of the schema, as (method, path): plain pytest parameters, so each has its own test id (what
#: ``schema.parametrize()`` generates shares one node id, which pytest-xdist cannot tell apart).
OPERATIONS = [(op.method.upper(), op.path) for op in (result.ok() for result in schema.get_all_operations())]


@pytest.mark.long
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_api_answers_every_generated_request_within_its_schema(method, path, api_token, live_server):
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
    def answers_within_schema(case) -> None:
        case.call_and_validate(
            base_url=live_server.url,
            headers={"Authorization": f"Token {api_token}"},
            # DRF reads a malformed optional query value (page_size=null) as absent rather than refusing it,
            # and a well-formed create can still name an agency that does not exist: both are by design.
            excluded_checks=[checks.negative_data_rejection, checks.positive_data_acceptance],
            timeout=REQUEST_TIMEOUT,
        )

    answers_within_schema()


def test_the_schema_covers_every_mirrored_resource():
    paths = set(schema.raw_schema["paths"])
    assert {f"/api/v1/{endpoint.url}/" for endpoint in ENDPOINTS} <= paths
    assert {f"/api/v1/{endpoint.url}/{{id}}/" for endpoint in ENDPOINTS} <= paths
