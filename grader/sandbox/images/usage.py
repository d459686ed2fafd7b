"""The engine's images as the store reports and prunes them (`grader.cache.ImageCache`).

The store knows last use and sizes but never talks to the engine; this adapter lists the engine's images for
it and removes the environment and runner images it chooses.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from grader.cache import ImageRecord
from grader.engine import Engine
from grader.sandbox.images.environment import remove_images

# Images that are reported but never pruned: rebuilding them may need a registry or root.
BASE_TAG_PREFIXES = ("grader-base:", "grader-rootfs:", "grader-build:", "grader-build-rootfs:")


class EngineImages:
    """The engine's images, for `grader cache info` and `grader cache prune`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def records(self) -> list[ImageRecord]:
        """Every image of the engine, with the sizes and labels the cache reads."""
        return [_record(image) for image in self.engine.image_usage()]

    def remove(self, role: str, keys: Collection[str]) -> int:
        """Delete the environment or runner images built for `keys` (skipping any a container uses)."""
        if role == "env":
            return remove_images(self.engine, ["env"], keys=keys)
        if role == "runner":
            return remove_images(self.engine, ["runner"], keys=keys)
        return 0


def _record(image: dict[str, Any]) -> ImageRecord:
    labels = image.get("Labels") or {}
    tags = image.get("RepoTags") or []
    size = int(image.get("Size") or 0)
    return ImageRecord(
        name=tags[0] if tags else str(image.get("Id", ""))[7:19],
        role=labels.get("grader.role"),
        key=labels.get("grader.key"),
        size=size,
        unique_size=max(size - max(int(image.get("SharedSize") or 0), 0), 0),
        created=float(image.get("Created") or 0),
        base=any(tag.startswith(BASE_TAG_PREFIXES) for tag in tags),
    )
