from typing import Any

from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chatapp.chat"
    label = "chat"
    verbose_name = "chat"

    def ready(self) -> None:
        from chatapp.accounts.signals import user_registered
        from chatapp.chat import services

        def start_read(sender: object, *, user: Any, **kwargs: object) -> None:
            services.public_rooms_start_read(user_id=user.pk)

        user_registered.connect(start_read, weak=False, dispatch_uid="chat.start_read")
