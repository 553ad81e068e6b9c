"""Signing methods, one module each, with their verifiers."""
