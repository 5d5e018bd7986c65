"""Write services of CallRail integrations of the Webhooks type (create, update, disable) via the outbox."""

from __future__ import annotations

from typing import Any

from apps.push import validation as v
from apps.push.services import PushRefused, mirror_row_create, mirror_row_delete, mirror_row_update

from .models import Integration


def _webhook_config(config: Any) -> dict[str, list[str]]:
    if not isinstance(config, dict):
        raise PushRefused("The webhook configuration is a map of events to URLs.", field="config")
    out = {}
    for event, urls in config.items():
        v.choice(event, v.WEBHOOK_EVENTS, "webhook event")
        urls = [urls] if isinstance(urls, str) else list(urls or [])
        out[event] = [v.url(u, event) for u in urls]
    return out


def webhook_integration_create(*, account: Any, company: Any, config: dict, actor: Any = None) -> Integration:
    if company is None:
        raise PushRefused("A webhook integration needs a company.", field="company")
    v.same_account(account, company, "company")
    if Integration.objects.for_account(account).live().filter(company=company, type="Webhooks").exists():
        raise PushRefused("This company already has a Webhooks integration; edit it instead.", field="company")
    row = Integration(client_account=account, company=company, type="Webhooks", state="active",
                      config=_webhook_config(config))  # fmt: skip
    return mirror_row_create(row=row, resource="integrations", actor=actor)


def integration_update(
    *, integration: Integration, config: dict | None = None, state: str | None = None, actor: Any = None
) -> Integration:
    integration = Integration.objects.for_account(integration.client_account_id).get(pk=integration.pk)
    values: dict[str, Any] = {}
    if config is not None:
        if integration.type != "Webhooks":
            raise PushRefused(f"{integration.type} integrations can only be configured in CallRail.")
        values["config"] = {**(integration.config or {}), **_webhook_config(config)}
    if state is not None:
        values["state"] = v.choice(state, ("active", "disabled"), "state")
    return mirror_row_update(row=integration, resource="integrations", values=values, actor=actor)


def integration_disable(*, integration: Integration, actor: Any = None) -> Integration | None:
    return mirror_row_delete(row=integration, resource="integrations", actor=actor)


# ------------------------------------------------------------------------------------ the portal's webhooks
def webhooks_connect(*, company: Any, actor: Any = None) -> Integration:
    """Point the company's CallRail Webhooks integration at the portal, through the outbox: created if the
    company has none, else its URLs for every event are set (other URLs it lists are kept). When CallRail
    answers, the signing key it returns is stored (``integration_answer_received``)."""
    from apps.tenancy.models import ClientAccount
    from apps.webhooks.services import webhook_urls

    account = ClientAccount.objects.for_account(company.client_account_id).get()
    ours = webhook_urls(account)
    existing = (
        Integration.objects.for_account(account).live().filter(company=company, type="Webhooks").order_by("pk").first()
    )
    if existing is None:
        return webhook_integration_create(
            account=account, company=company, config={event: [url] for event, url in ours.items()}, actor=actor
        )
    config = {
        event: [*[u for u in (existing.config or {}).get(event, []) if u != url], url] for event, url in ours.items()
    }
    return integration_update(integration=existing, config=config, state="active", actor=actor)


def integration_answer_received(account: Any, row: Integration, record: dict) -> dict:
    """CallRail's answer to a push of an integration, before it reaches the mirror (registered with the push
    engine in ``apps.py``): a Webhooks integration's signing key is stored encrypted for the webhook receiver,
    never in the mirrored payload."""
    from apps.webhooks.services import webhook_signing_key_set

    key = record.get("signing_key")
    if key and row.company_id is not None:
        webhook_signing_key_set(company=row.company, signing_key=key)
    return {k: value for k, value in record.items() if k != "signing_key"}
