from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OkrappConfig(AppConfig):
    name = "okrapp"
    verbose_name = _("Organisations and people")
