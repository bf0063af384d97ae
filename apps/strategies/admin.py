"""Admin for the strategies app. The lifecycle log is read-only here (no add, change or delete):
it is appended to by the services only. Stages and request decisions are not editable either —
they change through the four-eyes services, never by hand."""

from __future__ import annotations

from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from .models import LifecycleEvent, ModelVersion, PromotionRequest, Strategy


@admin.register(Strategy)
class StrategyAdmin(GuardedModelAdmin):
    list_display = ("name", "kind", "universe", "frequency", "owner", "updated_at")
    list_filter = ("kind", "frequency")
    search_fields = ("name", "description")
    readonly_fields = ("created_at", "updated_at")


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("strategy", "version", "stage", "code_version", "created_by", "created_at")
    list_filter = ("stage",)
    search_fields = ("strategy__name",)
    readonly_fields = (
        "strategy",
        "version",
        "stage",
        "artifact",
        "artifact_sha256",
        "train_start",
        "train_end",
        "data_hash",
        "code_version",
        "metrics",
        "config",
        "created_by",
        "created_at",
    )

    def has_add_permission(self, request):
        return False


@admin.register(PromotionRequest)
class PromotionRequestAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "model_version",
        "kind",
        "from_stage",
        "to_stage",
        "status",
        "requested_by",
        "decided_by",
    )
    list_filter = ("status", "kind", "to_stage")
    readonly_fields = [f.name for f in PromotionRequest._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LifecycleEvent)
class LifecycleEventAdmin(admin.ModelAdmin):
    list_display = ("at", "strategy", "model_version", "action", "from_stage", "to_stage", "actor")
    list_filter = ("action", "to_stage")
    search_fields = ("strategy__name", "reason")
    readonly_fields = [f.name for f in LifecycleEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
