from django.conf import settings
from django.db import models


class Universe(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A dated membership interval. Convention: a member ON its start date and NOT on its end date
    ([start, end)); `end_date` null = still a member. Intervals of one symbol never overlap."""

    universe = models.ForeignKey(Universe, on_delete=models.CASCADE, related_name="memberships")
    symbol = models.CharField(max_length=16, db_index=True)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["symbol", "start_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["universe", "symbol", "start_date"], name="membership_unique_start"
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gt=models.F("start_date")),
                name="membership_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.universe_id}:{self.symbol} [{self.start_date}, {self.end_date or '...'})"
