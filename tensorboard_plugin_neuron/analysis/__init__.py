"""Analyses: pure functions over a trace's columns, one module per view of the Neuron plugin."""
