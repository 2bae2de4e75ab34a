"""Loa: the ``loa`` command and the small pieces shared by the demo and the tests."""

__version__ = "0.1.0"
