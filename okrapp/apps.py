from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OkrappConfig(AppConfig):
    name = "okrapp"
    verbose_name = _("Organisations and people")

    def ready(self):
        from okrapp import rls

        # Row-level security scopes for requests, tasks and new connections, and the
        # policies installed after every migrate (PostgreSQL only).
        rls.install()
