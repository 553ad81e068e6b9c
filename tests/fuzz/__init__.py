"""Fuzzing the scanner: property tests over every format, and the mutational campaign behind scripts/fuzz."""
