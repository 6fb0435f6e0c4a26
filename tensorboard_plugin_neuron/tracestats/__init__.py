"""Statistics computed from a trace when it is written (summary metrics, per-node time attribution, the
TensorBoard events file), kept as public modules because the analyses read them too."""
