"""Alarms' store (rules, states, history), their defaults and the request windows they read."""
