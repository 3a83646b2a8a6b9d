"""Reading a gauge's last values from an in-memory metric reader, by one of its attributes."""

from __future__ import annotations

from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint


def gauge_by(reader: InMemoryMetricReader, name: str, key: str) -> dict[tuple[str, str], int]:
    """The gauge's last values keyed by (the value of attribute `key`, of every other one
    joined): enough for a test to pick its own series."""
    data = reader.get_metrics_data()
    assert data is not None
    found = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in (m for m in scope.metrics if m.name == name):
                for point in metric.data.data_points:
                    assert isinstance(point, NumberDataPoint) and point.attributes is not None
                    rest = ",".join(str(v) for k, v in sorted(point.attributes.items()) if k != key)
                    found[str(point.attributes[key]), rest] = int(point.value)
    return found
