"""`python -m evmon.cli`: the `evmon` command."""

from evmon.cli import main

main()
