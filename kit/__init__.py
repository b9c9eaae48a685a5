"""Investigation kit for EC2 instances that go pending, then stopped (KMS / EBS launch failures)."""

__version__ = "0.1.0"
