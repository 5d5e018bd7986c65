"""Fixtures of the trust-boundary regression tests (issue 16): one test file per finding."""

from tests.webhooks.conftest import hooked_account  # noqa: F401  (an account mirrored from the sandbox)
