"""Consumers: the Lambda handlers that react to order events."""
