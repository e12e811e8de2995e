"""``python -m chargedeck`` is the ``chargedeck`` command."""

from chargedeck.cli import main

main()
