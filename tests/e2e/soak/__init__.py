"""The gateway fault soak: dialled channel faults, a merchant's calls, our books and the checks."""
