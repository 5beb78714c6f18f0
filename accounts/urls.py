from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("x/link/oauth1/", views.link_oauth1, name="link_oauth1"),
    path("x/link/oauth1/callback/", views.link_oauth1_callback, name="link_oauth1_callback"),
    path("x/link/oauth2/", views.link_oauth2, name="link_oauth2"),
    path("x/link/oauth2/callback/", views.link_oauth2_callback, name="link_oauth2_callback"),
]
