from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from celery.signals import task_postrun, task_prerun

        from .logcontext import enter_task, leave_task

        task_prerun.connect(enter_task, weak=False)
        task_postrun.connect(leave_task, weak=False)
