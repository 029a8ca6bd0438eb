"""SIM self-service: the caller's mobile lines, their data usage, and cancellation."""
