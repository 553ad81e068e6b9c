"""Containers: archives and compressed streams, read as their loaders read them."""
