"""Admin for the strategies app: read-only. Strategies are created, edited and shared through the
validated services (the admin would bypass config validation and the sharing rules); versions,
their artifacts, hashes and metrics are evidence; stages and request decisions change through the
four-eyes services; the lifecycle log is appended to by the services only. The admin shows them
all and changes none."""

from __future__ import annotations

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin

from .models import LifecycleEvent, ModelVersion, PromotionRequest, Strategy


@admin.register(Strategy)
class StrategyAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "universe", "frequency", "owner", "updated_at")
    list_filter = ("kind", "frequency")
    search_fields = ("name", "description")


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ("strategy", "version", "stage", "code_version", "created_by", "created_at")
    list_filter = ("stage",)
    search_fields = ("strategy__name",)


@admin.register(PromotionRequest)
class PromotionRequestAdmin(ReadOnlyAdmin):
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


@admin.register(LifecycleEvent)
class LifecycleEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "strategy", "model_version", "action", "from_stage", "to_stage", "actor")
    list_filter = ("action", "to_stage")
    search_fields = ("strategy__name", "reason")
