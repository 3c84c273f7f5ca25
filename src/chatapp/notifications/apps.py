from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "chatapp.notifications"
    label = "notifications"
    verbose_name = "notifications"
