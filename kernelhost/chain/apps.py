from django.apps import AppConfig


class ChainConfig(AppConfig):
    name = "kernelhost.chain"
    label = "chain"
    verbose_name = "Chain"
    default_auto_field = "django.db.models.BigAutoField"
