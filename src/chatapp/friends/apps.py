from django.apps import AppConfig


class FriendsConfig(AppConfig):
    name = "chatapp.friends"
    label = "friends"
    verbose_name = "friends"
