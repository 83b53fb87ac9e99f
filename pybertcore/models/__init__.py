"""The model families, one sub-package each: configuration and modeling."""
