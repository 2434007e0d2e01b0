"""Producers: plain boto3 code that puts order events into the system."""
