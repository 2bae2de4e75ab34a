"""The central service: web panel, JSON API, scheduler, MQTT gateway, auditing."""
