"""Entry point: python -m payctl."""

from payctl.main import main

main()
