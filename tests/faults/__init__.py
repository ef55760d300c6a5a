"""Fault-injection suite: every failure recovers by itself or stops with a clear message."""
