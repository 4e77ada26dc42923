"""Drift: the statistics, the window of served rows, the check and its report, its store."""
