"""Entry point: python -m ledger [serve|migrate]."""

from ledger.bootstrap import DEFINITION
from paysuite.runtime.entrypoint import main

main(DEFINITION)
