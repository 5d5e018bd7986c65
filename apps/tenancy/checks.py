"""System check tenancy.E001: every model that points at a ClientAccount must use the scoping base."""

from django.apps import apps
from django.core import checks


@checks.register(checks.Tags.models)
def check_tenant_models(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return untenanted_model_errors(apps.get_models())


def untenanted_model_errors(models) -> list[checks.CheckMessage]:
    from .models import ClientAccount, Membership, TenantOwnedModel

    errors = []
    for model in models:
        if model in (ClientAccount, Membership) or model._meta.app_label in ("admin", "auth", "contenttypes"):
            continue
        points_at_account = any(
            getattr(f, "related_model", None) is ClientAccount and f.many_to_one for f in model._meta.get_fields()
        )
        if points_at_account and not issubclass(model, TenantOwnedModel):
            errors.append(
                checks.Error(
                    f"{model._meta.label} has a ForeignKey to ClientAccount but is not a TenantOwnedModel.",
                    hint="Subclass apps.tenancy.models.TenantOwnedModel so its queries are scoped.",
                    obj=model,
                    id="tenancy.E001",
                )
            )
    return errors
