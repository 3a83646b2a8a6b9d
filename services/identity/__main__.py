"""Entry point: python -m identity [serve|migrate]."""

from identity.bootstrap import DEFINITION
from paysuite.runtime.entrypoint import main

main(DEFINITION)
