"""payctl: a command-line client of the suite for people."""
