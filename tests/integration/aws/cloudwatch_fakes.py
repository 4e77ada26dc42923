"""A fake at the boto3 client boundary for the CloudWatch call moto cannot answer.

moto records each alarm's state changes (``SetAlarmState``) but does not implement
``DescribeAlarmHistory``. The fake wraps a real (moto-backed) client, passes every other call
through, checks the request against the real API's shape with botocore, and answers from
moto's record in CloudWatch's form (``HistoryData``: the old and new state as JSON).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from itertools import pairwise
from typing import Any

from botocore.validate import validate_parameters

from conveyor.aws.clients import client


class FakeAlarmHistoryClient:
    """A CloudWatch client whose ``describe_alarm_history`` paginator reads moto's record."""

    @property
    def real(self) -> Any:
        return client("cloudwatch")  # made inside the test's mocked account

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def get_paginator(self, operation: str) -> Any:
        if operation != "describe_alarm_history":
            return self.real.get_paginator(operation)
        return self

    def paginate(self, **request: Any) -> Iterator[dict[str, Any]]:
        model = self.real.meta.service_model.operation_model("DescribeAlarmHistory")
        validate_parameters(request, model.input_shape)
        items = [
            item
            for alarm in self._alarms()
            if request.get("AlarmName") in (None, alarm.name)
            for item in _state_updates(alarm)
        ]
        items.sort(key=lambda item: item["Timestamp"], reverse=True)
        yield {"AlarmHistoryItems": items}

    def _alarms(self) -> list[Any]:
        from moto.cloudwatch.models import cloudwatch_backends
        from moto.core import DEFAULT_ACCOUNT_ID

        return list(
            cloudwatch_backends[DEFAULT_ACCOUNT_ID][self.real.meta.region_name].alarms.values()
        )


def _state_updates(alarm: Any) -> list[dict[str, Any]]:
    """moto keeps the state each change left (type, reason, data, value, time); the state it
    went to is the next entry's, or the alarm's own for the last."""
    states = [entry[1:] for entry in alarm.history]
    states.append(
        (
            alarm.state_reason,
            alarm.state_reason_data,
            alarm.state_value,
            alarm.state_updated_timestamp,
        )
    )
    items = []
    for old, new in pairwise(states):
        history = {
            "version": "1.0",
            "oldState": {"stateValue": old[2], "stateReason": old[0]},
            "newState": {
                "stateValue": new[2],
                "stateReason": new[0],
                "stateReasonData": json.loads(new[1] or "{}"),
            },
        }
        items.append(
            {
                "AlarmName": alarm.name,
                "AlarmType": "MetricAlarm",
                "Timestamp": new[3].replace(tzinfo=UTC),  # moto's is naive, boto3's is not
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {old[2]} to {new[2]}",
                "HistoryData": json.dumps(history),
            }
        )
    return items
