"""The Metrics port: where a server or a Lambda handler counts the prediction requests it
answered. Locally a Prometheus registry scraped on ``/metrics``
(``prometheus.RequestMetrics``); on AWS one embedded-metric-format line per request that
CloudWatch Logs turns into metrics (``cloudwatch.EmfMetrics``). The alarms watching those
metrics are ``monitoring.alarms`` rules: evaluated by the local monitor, or made CloudWatch
alarms by ``cloudwatch_alarms.sync_alarms``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Metrics(Protocol):
    def observe(
        self, project: str, version: int | None, status: int, seconds: float, rows: int
    ) -> None:
        """Count one answered prediction request.

        Args:
            project: the project asked (``labels.UNKNOWN_PROJECT`` for one not served, so
                that made-up names cannot grow the number of series).
            version: the model version that answered; None when none did.
            status: the HTTP status of the answer.
            seconds: the time taken to answer.
            rows: the rows scored (counted only when the answer succeeded).

        Raises:
            InvalidInput: a value the backend cannot record (EMF: a non-finite time).
        """
        ...
