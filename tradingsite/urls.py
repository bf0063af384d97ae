from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("apps.core.urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("data/", include("apps.marketdata.urls")),
    path("universes/", include("apps.universes.urls")),
    path("strategies/", include("apps.strategies.urls")),
    path("research/", include("apps.research.urls")),
    path("alerts/", include("apps.alerts.urls")),
    path("cockpit/", include("apps.cockpit.urls")),
    path("admin/", admin.site.urls),
]
