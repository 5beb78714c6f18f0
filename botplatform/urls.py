from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from botplatform import views

# The product's name in the admin's header and its pages' titles, where
# Django says "Django administration".
admin.site.site_header = admin.site.site_title = "botplatform"
admin.site.index_title = "Home"

urlpatterns = [
    # The product is the admin: the site's front door leads there.
    path("", RedirectView.as_view(pattern_name="admin:index")),
    # In place of the admin's own route to Django's view, guarded the same way.
    path("admin/r/<path:content_type_id>/<path:object_id>/", admin.site.admin_view(views.view_on_site)),
    # Two-factor sign-in (accounts/two_factor.py), before the admin's catch-all.
    path("admin/two-factor/", include("accounts.urls_two_factor")),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
]

# Uploaded files, to those who may see what they belong to: through Django in
# every setting (a web server serving MEDIA_ROOT itself would serve them to anyone).
urlpatterns += [
    path(f"{settings.MEDIA_URL.lstrip('/')}<path:name>", admin.site.admin_view(views.media_file), name="media"),
]
