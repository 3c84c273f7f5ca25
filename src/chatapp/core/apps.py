from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "chatapp.core"
    label = "core"
    verbose_name = "chatapp core"

    def ready(self) -> None:
        from django.urls import register_converter

        from chatapp.core.converters import IdConverter, NameConverter

        # Before any URLconf is imported: patterns read their converters when built.
        register_converter(IdConverter, "id")
        register_converter(NameConverter, "name")
