"""Entry point: python -m recon [serve|migrate]."""

from paysuite.runtime.entrypoint import main
from recon.bootstrap import DEFINITION

main(DEFINITION)
