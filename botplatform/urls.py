from __future__ import annotations

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from botplatform import views

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

# Uploaded media in development (static() adds nothing when DEBUG is off;
# production serves MEDIA_ROOT, or S3 and the like, from its own web server).
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
