"""Talking to AvoSMS: the endpoints and their codes (shared with the sandbox)."""
