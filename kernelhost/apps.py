from django.apps import AppConfig


class KernelhostConfig(AppConfig):
    """Django's view of the node: management commands only.

    The pure packages (kernelhost.kernel, kernelhost.swingstore) never import Django; this
    config is what lets `manage.py initnode/runnode/...` live next to them.
    """

    name = "kernelhost"
    verbose_name = "Kernel host"
