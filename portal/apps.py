from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from django.conf import settings

        from portal.addresses import trusted_networks

        trusted_networks(tuple(settings.TRUSTED_PROXIES))  # refuses to start on a bad entry
