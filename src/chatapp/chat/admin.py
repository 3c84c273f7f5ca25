from django.contrib import admin

from chatapp.chat.models import Membership, Message, Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "title", "last_seq", "created_at")
    list_filter = ("kind",)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "room", "seq", "author", "created_at")
    raw_id_fields = ("room", "author")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("room", "user", "last_read_seq")
    raw_id_fields = ("room", "user")
