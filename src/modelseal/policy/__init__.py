"""Policy files: which signers are trusted for which models (and, later, what a scan must show)."""
