"""The OMS v1.0 wire format: manifest, in-toto statement, DSSE envelope and Sigstore bundle."""
