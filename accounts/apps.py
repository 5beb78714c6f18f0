from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_save


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # The workspace pages live beside accounts.admin, which Django's
        # autodiscovery imports; they register themselves when imported.
        from . import admin_workspaces, services  # noqa: F401
        from .models import User

        post_save.connect(services.personal_workspace_on_creation, sender=User,
                          dispatch_uid="accounts.personal_workspace")
