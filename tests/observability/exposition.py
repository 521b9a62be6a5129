"""Read Prometheus text exposition the way a scraper does, for assertions on names and values."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from observability.metrics import job_metrics, stream_metrics

_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def parse(text: str) -> tuple[dict[str, str], dict[str, str], dict[str, float]]:
    """(HELP by family, TYPE by family, value by sample line `name{labels}`) of an exposition."""
    helps: dict[str, str] = {}
    types: dict[str, str] = {}
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, doc = line[len("# HELP "):].partition(" ")
            helps[name] = doc
        elif line.startswith("# TYPE "):
            name, _, kind = line[len("# TYPE "):].partition(" ")
            types[name] = kind
        elif line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return helps, types, samples


def all_metric_names() -> set[str]:
    """Every series name kukuri-trending's own metrics can expose, labelled families included
    (which expose no sample until first used)."""
    registry = CollectorRegistry()
    job_metrics(emit_histogram=True, registry=registry)
    stream_metrics(registry)
    _, types, _ = parse(generate_latest(registry).decode())
    names: set[str] = set()
    for family, kind in types.items():
        base = family.removesuffix("_total") if kind == "counter" else family
        names.update(base + suffix for suffix in _SUFFIXES[kind])
    return names
