from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "chatapp.tokens"
    label = "tokens"
    verbose_name = "API tokens"
