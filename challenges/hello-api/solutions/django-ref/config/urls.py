from django.urls import path

from notes import views

urlpatterns = [
    path("health", views.health),
    path("notes", views.notes_collection),
    path("notes/<int:note_id>", views.note_detail),
]

handler400 = "notes.views.bad_request"
handler404 = "notes.views.not_found"
handler500 = "notes.views.server_error"
