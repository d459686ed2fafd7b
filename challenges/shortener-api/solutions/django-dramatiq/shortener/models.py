"""Links and their per-day click counts (the worker adds to them; redirects never write here)."""

from __future__ import annotations

from django.db import models


class Link(models.Model):
    """A short code and the URL it redirects to (links never change once created)."""

    code = models.CharField(max_length=32, unique=True)
    url = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "links"

    def __str__(self) -> str:
        return f"{self.code} -> {self.url}"


class DailyClicks(models.Model):
    """How often a link was followed on one UTC day."""

    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="daily_clicks")
    day = models.DateField()
    clicks = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "click_counts"
        constraints = (models.UniqueConstraint(fields=["link", "day"], name="one_count_per_link_and_day"),)

    def __str__(self) -> str:
        return f"{self.link_id} {self.day}: {self.clicks}"
