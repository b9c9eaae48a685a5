"""Issue 16 defect 3: `--redact` masks account ids after a hyphen and IPv4 addresses written in IPv6 form."""

from __future__ import annotations

from kit.redact import redact_text, redact_value


def test_account_id_after_a_hyphen_is_masked() -> None:
    cdk = "arn:aws:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-eu-west-1"
    assert redact_text(cdk) == "arn:aws:iam::XXXXXXXX9012:role/cdk-hnb659fds-cfn-exec-role-XXXXXXXX9012-eu-west-1"
    assert redact_text("s3://aws-cloudtrail-logs-123456789012-abcd/AWSLogs/") == \
        "s3://aws-cloudtrail-logs-XXXXXXXX9012-abcd/AWSLogs/"
    assert redact_text("config-bucket-123456789012") == "config-bucket-XXXXXXXX9012"
    assert "123456789012" not in str(redact_value({"Bucket": "aws-cloudtrail-logs-123456789012-abcd"}))


def test_hyphenated_ids_that_are_not_accounts_are_kept() -> None:
    kept = ["8e3426b8-87b4-434c-ae74-123456789012", "8E3426B8-87B4-434C-AE74-123456789012",
            "key/8e3426b8-87b4-434c-ae74-123456789012", "mrk-1234abcd12ab34cd56ef123456789012",
            "vol-0123456789012", "i-123456789012abcde", "run-1234567890123", "x-1234567890123-y",
            "2024-01-01T12:30:45Z", "2024-01-01T12:30:45.123Z", "12:30:45.123", "1700000000123"]
    for value in kept:
        assert redact_text(value) == value, value


def test_ipv4_mapped_ipv6_addresses_are_masked_whole() -> None:
    for address in ["::ffff:10.1.2.3", "::FFFF:192.0.2.10", "64:ff9b::192.0.2.33"]:
        redacted = redact_text(f"from {address}, then")
        assert redacted == "from x:x:x:x, then", redacted
    assert redact_text('"sourceIPAddress": "::ffff:10.1.2.3"') == '"sourceIPAddress": "x:x:x:x"'
    assert redact_text("at ::ffff:10.1.2.3.") == "at x:x:x:x."
    assert redact_text("from 2001:db8::1 and 10.0.0.1") == "from x:x:x:x and x.x.x.x"
