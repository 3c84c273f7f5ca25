from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "chatapp.accounts"
    label = "accounts"
    verbose_name = "accounts"

    def ready(self) -> None:
        from chatapp.accounts import receivers  # noqa: F401 - connects the signal receivers
