"""The Metrics/Alarms port.

Metrics: where a server or a Lambda handler counts the prediction requests it answered.
Locally a Prometheus registry scraped on ``/metrics`` (``prometheus.RequestMetrics``); on AWS
one embedded-metric-format line per request that CloudWatch Logs turns into metrics
(``cloudwatch.EmfMetrics``).

Alarms: each project's threshold alarms (``alarm_rules.AlarmRule``) with their state and
history. Locally the rules and their state are Table items the monitor evaluates
(``table_alarms.TableAlarms``); on AWS the rules stay in the Table (their actions are
conveyor's) and CloudWatch evaluates them as alarms named ``conveyor/<project>/<rule>``
(``cloudwatch_alarms.CloudWatchAlarms``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from conveyor.metrics.alarm_rules import AlarmRule
    from conveyor.metrics.alarm_store import AlarmStatus, AlarmTransition


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


@runtime_checkable
class Alarms(Protocol):
    """A project's alarm rules, where they are evaluated, their state and history.

    Enabling or disabling an alarm is ``put_alarm`` of its rule with ``enabled`` changed: a
    disabled alarm keeps its definition (on CloudWatch, with its actions off).
    """

    scheme: str

    def put_alarm(self, rule: AlarmRule) -> AlarmStatus:
        """Create or replace one alarm's rule; an existing alarm keeps its state.

        Args:
            rule: the rule; its ``project`` and ``name`` name the alarm.
        Returns:
            The alarm with its current state.
        Raises:
            InvalidInput: a rule the backend cannot evaluate (CloudWatch: a period that is
                not a multiple of 60 s, too long a window, live quality without its metric).
            BackendUnavailable: the backend could not be written.
        """
        ...

    def put_alarms(self, project: str, rules: Sequence[AlarmRule]) -> list[str]:
        """Make the project's alarms exactly ``rules``: a new or changed rule is put (its
        alarm keeps its state), an alarm no rule names is deleted, an unchanged one is left
        alone (so calling again with the same rules writes nothing).

        Args:
            project: the project whose alarms these are.
            rules: every alarm the project is to have.
        Returns:
            The names of the rules created or changed, in ``rules``' order.
        Raises:
            InvalidInput: a rule of another project, or one the backend cannot evaluate;
                nothing is written then.
            BackendUnavailable: the backend could not be written.
        """
        ...

    def get_alarm(self, project: str, name: str) -> AlarmStatus:
        """Raises:
        NotFound: the project has no alarm of this name.
        BackendUnavailable: the backend could not be read.
        """
        ...

    def list_alarms(self, project: str) -> list[AlarmStatus]:
        """The project's alarms with their current state, by name; empty when it has none.

        Raises:
            BackendUnavailable: the backend could not be read.
        """
        ...

    def delete_alarm(self, project: str, name: str) -> None:
        """Delete one alarm (its history stays).

        Raises:
            NotFound: the project has no alarm of this name.
            BackendUnavailable: the backend could not be written.
        """
        ...

    def alarm_history(
        self, project: str, *, alarm: str | None = None, limit: int | None = None
    ) -> list[AlarmTransition]:
        """The project's state changes (and the other entries of its history: guardrail
        rollbacks, integrity alarms), newest first.

        Args:
            project: the project.
            alarm: only this alarm's entries; None for all.
            limit: at most this many; None for all.
        Raises:
            BackendUnavailable: the backend could not be read.
        """
        ...

    def delete_project_alarms(self, project: str) -> dict[str, int]:
        """Delete every alarm of the project, its history and the memory of its defaults
        (so a project made again with the name starts afresh).

        Returns:
            What was deleted -> how many (``alarms``, ``alarm history``, ``default alarms``;
            on CloudWatch also ``cloudwatch alarms``).
        Raises:
            BackendUnavailable: the backend could not be written; deleting again finishes.
        """
        ...


@runtime_checkable
class LocalAlarmStates(Protocol):
    """An optional capability: alarms whose state conveyor's own monitor decides
    (``conveyor.pipeline.alarms``), as the Table's are. CloudWatch decides its alarms'
    states itself; its adapter has no such verb, and the monitor leaves it alone."""

    def set_state(self, current: AlarmStatus, updated: AlarmStatus) -> bool:
        """Write the state the monitor decided, unless the alarm changed since it was read.

        Args:
            current: the alarm as the monitor read it (its ``revision``).
            updated: the same rule with its new state, ``current.revision + 1``.
        Returns:
            False when another monitor (or an edit) wrote first: its word stands.
        Raises:
            BackendUnavailable: the backend could not be written.
        """
        ...
