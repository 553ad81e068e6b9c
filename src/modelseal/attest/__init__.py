"""Signed scan attestations and the `check` gate that trusts them or scans again."""
