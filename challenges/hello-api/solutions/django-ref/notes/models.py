from django.db import models

MAX_TITLE = 200


class Note(models.Model):
    title = models.CharField(max_length=MAX_TITLE)
    body = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "body": self.body}
