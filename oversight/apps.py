from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OversightConfig(AppConfig):
    name = "oversight"
    verbose_name = _("Service levels, review and reports")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from oversight.models import BusinessCalendar, Holiday, ServiceTarget
        from oversight.selectors import sla_config_forget

        for model in (BusinessCalendar, Holiday, ServiceTarget):
            post_save.connect(sla_config_forget, sender=model, dispatch_uid=f"sla-config-{model.__name__}")
            post_delete.connect(sla_config_forget, sender=model, dispatch_uid=f"sla-config-{model.__name__}")
