"""Find serialisation attacks in model files by reading their bytes, never by loading them."""
