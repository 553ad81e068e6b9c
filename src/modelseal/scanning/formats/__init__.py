"""Format checkers other than pickle: each reads headers and structure, never weights."""
