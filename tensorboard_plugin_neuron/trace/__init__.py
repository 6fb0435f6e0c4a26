"""Execution traces: schema, writer, reader and summary metrics over their columns."""
