"""Zones (administrative units), devices, credentials and keys."""
