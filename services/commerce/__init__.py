"""The commerce service."""
