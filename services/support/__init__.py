"""The support service."""
