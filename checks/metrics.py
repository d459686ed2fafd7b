"""The app's Prometheus metrics, scraped over HTTP and parsed with `prometheus_client`'s text parser.

A suite takes a `MetricsSnapshot` before and after the requests it makes and compares values: counters
only grow, so a delta is robust to whatever earlier tests did. Names are looked up as the exposition writes
its samples (`http_requests_total`, `latency_seconds_bucket`) or by family (`http_requests`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

METRICS_PATH = "/metrics"
SCRAPE_TIMEOUT_S = 10.0


class MetricsError(Exception):
    """The app's metrics could not be read: no answer, an error status, or text that is not Prometheus'."""


@dataclass(frozen=True)
class MetricSample:
    """One line of the exposition: a sample name, its labels and its value."""

    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class MetricFamily:
    """One `# TYPE` family: its name (without `_total` for a counter), type, help text and samples."""

    name: str
    type: str  # counter, gauge, histogram, summary, info, stateset, gaugehistogram or unknown
    documentation: str
    samples: tuple[MetricSample, ...]


class MetricsSnapshot:
    """The metrics as one scrape found them."""

    def __init__(self, families: Mapping[str, MetricFamily], text: str) -> None:
        self.families = dict(families)
        self.text = text

    def family(self, name: str) -> MetricFamily | None:
        """The family `name`, also when named by a counter's sample name (`..._total`)."""
        return self.families.get(name) or self.families.get(name.removesuffix("_total"))

    def samples(self, name: str, labels: Mapping[str, str] | None = None) -> list[MetricSample]:
        """The samples named `name` (a sample name, or a family name for its plain samples) whose labels
        include every pair of `labels`."""
        wanted = dict(labels or {})
        found = []
        for family in self.families.values():
            for sample in family.samples:
                named = sample.name == name or (family.name == name and sample.name in (name, f"{name}_total"))
                if named and all(sample.labels.get(key) == value for key, value in wanted.items()):
                    found.append(sample)
        return found

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float | None:
        """The sum of the matching samples (one value when the labels single one out); None when none match."""
        matching = self.samples(name, labels)
        return sum(sample.value for sample in matching) if matching else None

    def total(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """Like `value`, but 0 when nothing matches (a counter the app has not incremented yet)."""
        return self.value(name, labels) or 0.0

    def label_values(self, name: str, label: str) -> set[str]:
        """Every value `label` takes among the samples named `name` (e.g. the routes a counter has seen)."""
        return {sample.labels[label] for sample in self.samples(name) if label in sample.labels}


def parse_metrics(text: str) -> MetricsSnapshot:
    """Parse Prometheus text exposition; MetricsError when it is not that format."""
    from prometheus_client.parser import text_string_to_metric_families

    families: dict[str, MetricFamily] = {}
    try:
        for parsed in text_string_to_metric_families(text):
            families[parsed.name] = _family(parsed)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise MetricsError(f"the metrics are not in Prometheus' text format ({type(exc).__name__}: {exc})") from exc
    return MetricsSnapshot(families, text)


def _family(parsed: Any) -> MetricFamily:
    samples = tuple(MetricSample(sample.name, dict(sample.labels), float(sample.value)) for sample in parsed.samples)
    return MetricFamily(parsed.name, parsed.type, parsed.documentation, samples)


def scrape(client: httpx.Client, path: str = METRICS_PATH) -> MetricsSnapshot:
    """GET `path` from the app and parse it; MetricsError saying what went wrong otherwise."""
    try:
        response = client.get(path, timeout=SCRAPE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise MetricsError(f"GET {path} did not answer ({type(exc).__name__}: {exc})") from exc
    if response.status_code != 200:
        raise MetricsError(f"GET {path} answered {response.status_code}, not 200 with Prometheus metrics")
    return parse_metrics(response.text)
