"""Alarms' defaults and the request windows the local monitor reads (their store is
``conveyor.metrics.alarm_store``, behind the Alarms port)."""
