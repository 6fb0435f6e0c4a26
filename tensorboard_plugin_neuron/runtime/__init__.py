"""Simulated runtime: real outputs with device numerics, timing from the device model."""
