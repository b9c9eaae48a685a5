"""Investigation kit for EC2 instances that go pending, then stopped (KMS / EBS launch failures)."""

from __future__ import annotations

from functools import cache

DISTRIBUTION = "ec2-kms-kit"  # the name on the package index; the import package is `kit`


@cache
def version() -> str:
    """The installed distribution's version (pyproject.toml is its one source); `0+unknown` when not installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as distribution_version

    try:
        return distribution_version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"
