"""The apps a webhook delivery goes through are layered one way: integrations builds on webhooks and push;
webhooks and push import neither each other nor integrations; sync (the pull) imports none of them (their
hooks register themselves), so a reader follows a delivery from the receiver to the mirror without a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parents[2] / "apps"

#: app -> apps it must never import (at module level or inside a function)
FORBIDDEN = {
    "push": {"webhooks", "integrations"},
    "webhooks": {"integrations", "push"},
    "sync": {"webhooks", "integrations", "tags"},
}


def imported_apps(app: str, *, skip: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """Per module of ``apps/<app>`` (migrations and ``skip`` left out): the other apps it imports."""
    found: dict[str, set[str]] = {}
    for path in (APPS / app).rglob("*.py"):
        if "migrations" in path.parts or path.name in skip:
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("apps."):
                names.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("apps.")}
        found[str(path.relative_to(APPS))] = names - {app}
    return found


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_no_import_goes_back_up(app):
    # sync's REST API module is a leaf over every app (it offers their records), not part of the pull
    skip = ("api.py",) if app == "sync" else ()
    wrong = {module: names & FORBIDDEN[app] for module, names in imported_apps(app, skip=skip).items()}
    assert not {m: n for m, n in wrong.items() if n}


def test_integrations_is_the_layer_that_joins_webhooks_and_push():
    used = set().union(*imported_apps("integrations").values())
    assert {"webhooks", "push"} <= used
