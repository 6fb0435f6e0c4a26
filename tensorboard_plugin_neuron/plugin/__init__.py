"""The TensorBoard plugin: the profile store (loaded profiles, their cache and answers), HTTP routes."""
