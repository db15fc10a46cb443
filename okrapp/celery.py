"""The one Celery app. Broker, schedule and task defaults come from Django settings.

Every task runs in a row-level security scope (``okrapp.rls``, connected when Django
starts): the organisation of its ``org_id`` argument, every organisation for a task
declared ``@shared_task(system_scope=True)``, and no tenant row otherwise.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "okrapp.settings")

app = Celery("okrapp", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
