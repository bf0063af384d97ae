from django.urls import path

from . import views

app_name = "strategies"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("approvals/", views.approvals, name="approvals"),
    path("requests/<int:pk>/decide/", views.decide, name="decide"),
    path("requests/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<slug:name>/", views.detail, name="detail"),
    path("<slug:name>/edit/", views.edit, name="edit"),
    path("<slug:name>/share/", views.share, name="share"),
    path("<slug:name>/rollback/", views.rollback, name="rollback"),
    path("<slug:name>/versions/record/", views.version_record, name="version_record"),
    path("<slug:name>/v<int:version>/promote/", views.request_promotion, name="request_promotion"),
]
