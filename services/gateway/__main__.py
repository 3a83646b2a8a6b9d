"""Entry point: python -m gateway [serve|migrate]."""

from gateway.bootstrap import DEFINITION
from paysuite.runtime.entrypoint import main

main(DEFINITION)
