from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "apps.tags"
    label = "tags"
    verbose_name = "Tags (CallRail)"

    def ready(self) -> None:
        from apps.sync.services import PASS_HOOKS

        from .services import tag_snapshot, tags_apply_upstream_changes

        PASS_HOOKS["tags"] = (tag_snapshot, tags_apply_upstream_changes)
