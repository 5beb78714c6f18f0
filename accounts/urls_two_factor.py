"""The two-factor sign-in pages, under /admin/two-factor/ beside the admin
they guard; each is an admin view (staff only, never cached)."""

from django.contrib import admin
from django.urls import path

from . import views_two_factor

app_name = "two_factor"

urlpatterns = [
    path("", admin.site.admin_view(views_two_factor.setup), name="setup"),
    path("remove/", admin.site.admin_view(views_two_factor.remove), name="remove"),
    path("verify/", admin.site.admin_view(views_two_factor.verify), name="verify"),
]
