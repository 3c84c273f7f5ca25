from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from chatapp.accounts.models import User


@admin.register(User)
class ChatUserAdmin(UserAdmin):
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Chat profile", {"fields": ("avatar", "hide_email", "pending_email")}),
    )
    list_display = ("username", "email", "is_active", "is_staff", "date_joined")
