from django.urls import path

from . import views, views_workspaces

app_name = "accounts"

urlpatterns = [
    path("x/link/oauth1/", views.link_oauth1, name="link_oauth1"),
    path("x/link/oauth1/callback/", views.link_oauth1_callback, name="link_oauth1_callback"),
    path("x/link/oauth2/", views.link_oauth2, name="link_oauth2"),
    path("x/link/oauth2/callback/", views.link_oauth2_callback, name="link_oauth2_callback"),
    path("workspace/switch/", views_workspaces.workspace_switch, name="workspace_switch"),
    path("invitations/<str:token>/", views_workspaces.invitation, name="invitation"),
]
