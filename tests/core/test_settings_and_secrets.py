"""Configuration errors stop start-up with one line; secrets are encrypted at rest and rotatable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from apps.core.fields import _fernet
from tests.factories import ClientAccountFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"DATABASE_URL": "not-a-url"}, "DATABASE_URL"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
        ({"FIELD_ENCRYPTION_KEYS": "too-short"}, "FIELD_ENCRYPTION_KEYS"),
        ({"DJANGO_SETTINGS_MODULE": "agency_portal.settings.production", "DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
    ],
)
def test_bad_setting_stops_start_up_with_one_line_naming_it(variables, named):
    env = {**os.environ, **variables}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.smoke
@pytest.mark.django_db
def test_api_key_is_encrypted_at_rest():
    account = ClientAccountFactory(credential__api_key="super-secret-callrail-key")
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM credentials_credential WHERE id = %s", [account.credential_id])
        stored = cursor.fetchone()[0]
    assert "super-secret" not in stored
    assert type(account).objects.for_account(account).get().api_key == "super-secret-callrail-key"


@pytest.mark.django_db
def test_keys_rotate_without_downtime(settings):
    account = ClientAccountFactory(credential__api_key="rotate-me")
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old_keys]  # new key first, old still read
    _fernet.cache_clear()
    fetched = type(account).objects.for_account(account).get()
    assert fetched.api_key == "rotate-me"
    fetched.credential.save()  # re-encrypted with the new key
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # old key dropped
    _fernet.cache_clear()
    assert type(account).objects.for_account(account).get().api_key == "rotate-me"
    _fernet.cache_clear()
