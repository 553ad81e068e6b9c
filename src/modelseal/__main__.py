"""`python -m modelseal`."""

from modelseal.cli import main

main()
