"""`grader sandbox cleanup`: find the grader's containers, candidate images, volumes and networks, and remove
the orphans.

An orphan is a resource whose owning grader (see `grader.sandbox.owner`) ran on this host and is gone:
killed with SIGKILL, or its machine rebooted. Resources of gradings still running, in another terminal or a
CI job on this host, are never orphans; neither are those of another host sharing the engine, nor those
of a grader too old to record its owner. `everything` selects them all (the CLI asks first).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from grader.engine import Container, Engine, EngineError, Image, Network, Volume
from grader.sandbox.docker_pod import MANAGED_LABEL, ROLE_LABEL, RUN_LABEL
from grader.sandbox.owner import TEST_RUN_LABEL, OwnerState, describe_owner, labels_of_test_run, owner_state

Kind = Literal["container", "image", "volume", "network"]
# A volume in use cannot be removed, nor an image a container runs.
REMOVAL_ORDER: tuple[Kind, ...] = ("container", "image", "volume", "network")
CANDIDATE_IMAGE_ROLE = "candidate-image"  # the candidate's own Dockerfile built (grader.sandbox.candidate_image)


class CandidateImage:
    """An image built from a candidate's Dockerfile, found by its labels (a grading killed before removing it)."""

    def __init__(self, engine: Engine, image: Image) -> None:
        self._engine, self._image = engine, image

    @property
    def name(self) -> str:
        """Its tag, else its id."""
        return self._image.tags[0] if self._image.tags else self._image.id

    @property
    def labels(self) -> dict[str, str]:
        """Its labels: the grading's (run, session, owner)."""
        return dict(self._image.labels)

    def remove(self) -> None:
        """Remove it (untagged layers of its own go with it); EngineError when refused or gone."""
        self._engine.remove_image(self._image.id)


@dataclass(frozen=True)
class Resource:
    """One of the grader's resources in the engine, with the state of the grader that made it."""

    kind: Kind
    name: str
    labels: dict[str, str]
    owner: OwnerState
    handle: Container | Volume | Network | CandidateImage

    def describe(self) -> str:
        """`container grader-3f9c-app (run 3f9c; grader pid 1234 on host, started ...: gone)`."""
        run = self.labels.get(RUN_LABEL)
        where = f"run {run}; " if run else ""
        return f"{self.kind} {self.name} ({where}grader {describe_owner(self.labels)}: {OWNER_WORDS[self.owner]})"


OWNER_WORDS: dict[OwnerState, str] = {
    "running": "still running",
    "gone": "gone",
    "other-host": "another host",
    "unknown": "owner unknown",
}


def grader_resources(engine: Engine) -> list[Resource]:
    """Every container (running or not), volume and network carrying the grader's label."""
    found: list[Resource] = []
    for container in engine.containers(MANAGED_LABEL):
        found.append(_resource("container", container))
    for volume in engine.volumes(MANAGED_LABEL):
        found.append(_resource("volume", volume))
    for network in engine.networks(MANAGED_LABEL):
        found.append(_resource("network", network))
    for image in engine.images([MANAGED_LABEL, f"{ROLE_LABEL}={CANDIDATE_IMAGE_ROLE}"]):
        found.append(_resource("image", CandidateImage(engine, image)))
    return found


def _resource(kind: Kind, handle: Container | Volume | Network | CandidateImage) -> Resource:
    labels = handle.labels
    return Resource(kind, handle.name, labels, owner_state(labels), handle)


def select(resources: list[Resource], everything: bool) -> list[Resource]:
    """The resources to remove: the orphans (their grader is gone), or with `everything` all of them."""
    return [r for r in resources if everything or r.owner == "gone"]


def remove(resources: list[Resource]) -> list[tuple[Resource, str]]:
    """Remove `resources`, containers first; returns those the engine refused to remove, with its reason.

    One that vanished meanwhile (its grader finished after all) counts as removed.
    """
    refused: list[tuple[Resource, str]] = []
    for kind in REMOVAL_ORDER:
        for resource in (r for r in resources if r.kind == kind):
            try:
                resource.handle.remove()  # a container with its anonymous volumes
            except EngineError as exc:
                if not exc.missing:
                    refused.append((resource, exc.explanation))
    return refused


def remove_orphans(engine: Engine) -> list[Resource]:
    """Remove the orphans on this host (what graders that are gone left behind) and return those removed.

    What a worker runs at start and before each grading, so that a worker killed on this host leaves nothing
    for long. Under a test run (`$GRADER_TEST_RUN`) only that run's orphans are touched: other sessions on
    the same engine may be looking at theirs on purpose.
    """
    run = labels_of_test_run().get(TEST_RUN_LABEL)
    orphans = [r for r in select(grader_resources(engine), everything=False)
               if run is None or r.labels.get(TEST_RUN_LABEL) == run]
    refused = {id(resource) for resource, _reason in remove(orphans)}
    return [r for r in orphans if id(r) not in refused]


def count_by_kind(resources: list[Resource]) -> str:
    """`2 container(s), 1 volume(s)`: the kinds present, in removal order."""
    counts = Counter(r.kind for r in resources)
    return ", ".join(f"{counts[kind]} {kind}(s)" for kind in REMOVAL_ORDER if counts[kind]) or "nothing"
