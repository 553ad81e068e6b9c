"""Report renderers shared by several commands (the HTML page)."""
