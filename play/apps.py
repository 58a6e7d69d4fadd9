from django.apps import AppConfig


class PlayConfig(AppConfig):
    name = "play"
    verbose_name = "Browser play"

    def ready(self) -> None:
        from play import signals  # noqa: F401 - connects the receivers
