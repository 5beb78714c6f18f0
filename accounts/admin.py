from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Preferences", {"fields": ("timezone",)}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Preferences", {"fields": ("timezone",)}))
    list_display = (*DjangoUserAdmin.list_display, "timezone")
