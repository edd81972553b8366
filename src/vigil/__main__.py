"""`python -m vigil` is the `vigil` command."""

from vigil.wiring import main

main()
