from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from celery.signals import before_task_publish, task_postrun, task_prerun

        from .context import enter_task_context, leave_task_context, publish_headers

        before_task_publish.connect(publish_headers, weak=False)
        task_prerun.connect(enter_task_context, weak=False)
        task_postrun.connect(leave_task_context, weak=False)
