"""Routes; the catch-all redirect `<str:code>` comes last."""

from django.urls import path

from shortener import views

urlpatterns = [
    path("health", views.health, name="health"),
    path("ready", views.ready, name="ready"),
    path("metrics", views.metrics, name="metrics"),
    path("v1/links", views.create_link, name="create-link"),
    path("v1/links/<str:code>", views.link_detail, name="link-detail"),
    path("v1/links/<str:code>/stats", views.link_stats, name="link-stats"),
    path("<str:code>", views.follow, name="follow"),
]

handler404 = "shortener.views.not_found"
handler500 = "shortener.views.server_error"
