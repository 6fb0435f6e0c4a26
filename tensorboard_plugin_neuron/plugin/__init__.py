"""The TensorBoard plugin: profile discovery, cache, HTTP routes."""
