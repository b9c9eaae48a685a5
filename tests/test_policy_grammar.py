"""The policy grammar against examples from the AWS IAM User Guide; each case cites its source.

Each case is one identity-policy statement (or a whole document) and a request; `allow` is what the
documentation says or directly implies. A non-KMS resource is used where the example is not about KMS,
so the identity policy alone decides.
"""

from __future__ import annotations

import pytest

from kit.policy import Policy, PolicySet, Request, evaluate

OPERATORS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"
VARIABLES = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html"
MULTI = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html"
SINGLE_MULTI = ("https://docs.aws.amazon.com/IAM/latest/UserGuide/"
                "reference_policies_condition-single-vs-multi-valued-context-keys.html")
CONDITION = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html"
ACTION = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html"
NOTACTION = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html"
RESOURCE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html"
NOTRESOURCE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html"
VERSION = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html"
KMS_CONDITIONS = "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html"

USER = "arn:aws:iam::111122223333:user/David"
ROLE = "arn:aws:iam::111122223333:role/Admin"
ACCESS_KEY_STATEMENT = {"Effect": "Allow", "Action": "iam:*AccessKey*", "Resource": "arn:aws:iam::111122223333:user/*"}


def _statement(condition: dict | None = None, **fields: object) -> dict:
    statement = {**ACCESS_KEY_STATEMENT, **fields}
    if condition is not None:
        statement["Condition"] = condition
    return statement


# (id, source, statement or document, request principal, action, resource, context, allowed)
CASES = [
    # --- String operators
    ("stringequals-principaltag-present", OPERATORS,
     _statement({"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}),
     USER, "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/Bob",
     {"aws:PrincipalTag/job-category": "iamuser-admin"}, True),
    ("stringequals-principaltag-missing-is-false", OPERATORS,
     _statement({"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}),
     USER, "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/Bob", {}, False),
    ("stringequals-is-case-sensitive", OPERATORS,
     _statement({"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}),
     USER, "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/Bob",
     {"aws:PrincipalTag/job-category": "IAMUSER-ADMIN"}, False),
    ("stringequalsignorecase-ignores-case", OPERATORS,
     _statement({"StringEqualsIgnoreCase": {"aws:PrincipalTag/job-category": "iamuser-admin"}}),
     USER, "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/Bob",
     {"aws:PrincipalTag/job-category": "IAMUSER-Admin"}, True),
    ("stringnotequalsignorecase-negated", OPERATORS,
     _statement({"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/job-category": "iamuser-admin"}}),
     USER, "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/Bob",
     {"aws:PrincipalTag/job-category": "IAMUSER-Admin"}, False),
    ("stringnotlike-missing-key-is-true", OPERATORS,
     _statement({"StringNotLike": {"aws:PrincipalTag/job-category": "iamuser-*"}}),
     USER, "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/Bob", {}, True),
    ("stringnotequals-different-value-is-true", OPERATORS,
     _statement({"StringNotEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}),
     USER, "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/Bob",
     {"aws:PrincipalTag/job-category": "auditor"}, True),
    ("stringlike-home-prefix-with-username", OPERATORS,
     {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::BUCKET-NAME",
      "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}}},
     USER, "s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", {"s3:prefix": "home/David/"}, True),
    ("stringlike-home-prefix-other-user", OPERATORS,
     {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::BUCKET-NAME",
      "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}}},
     USER, "s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", {"s3:prefix": "home/Adele/"}, False),
    ("stringlike-empty-string-value-matches-empty", OPERATORS,
     {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::BUCKET-NAME",
      "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}}},
     USER, "s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", {"s3:prefix": ""}, True),
    # --- Numeric
    ("numeric-max-keys-10-allowed", OPERATORS,
     {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::example_bucket",
      "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}}},
     USER, "s3:ListBucket", "arn:aws:s3:::example_bucket", {"s3:max-keys": "10"}, True),
    ("numeric-max-keys-11-denied", OPERATORS,
     {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::example_bucket",
      "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}}},
     USER, "s3:ListBucket", "arn:aws:s3:::example_bucket", {"s3:max-keys": "11"}, False),
    ("numeric-json-number-policy-value", OPERATORS,
     {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::example_bucket",
      "Condition": {"NumericLessThan": {"s3:max-keys": 10.5}}},
     USER, "s3:ListBucket", "arn:aws:s3:::example_bucket", {"s3:max-keys": "10"}, True),
    ("numeric-not-equals-and-greater", OPERATORS,
     {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::example_bucket",
      "Condition": {"NumericNotEquals": {"s3:max-keys": "5"}, "NumericGreaterThanEquals": {"s3:max-keys": 3},
                    "NumericGreaterThan": {"s3:max-keys": "2"}, "NumericEquals": {"s3:max-keys": ["4", "6"]}}},
     USER, "s3:ListBucket", "arn:aws:s3:::example_bucket", {"s3:max-keys": "4"}, True),
    ("numeric-missing-key-is-false", OPERATORS,
     {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::example_bucket",
      "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}}},
     USER, "s3:ListBucket", "arn:aws:s3:::example_bucket", {}, False),
    # --- Date
    ("date-token-issued-2020", OPERATORS,
     _statement({"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}),
     ROLE, "iam:UpdateAccessKey", "arn:aws:iam::111122223333:user/Bob",
     {"aws:TokenIssueTime": "2020-06-01T12:00:00Z"}, True),
    ("date-token-issued-before", OPERATORS,
     _statement({"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}),
     ROLE, "iam:UpdateAccessKey", "arn:aws:iam::111122223333:user/Bob",
     {"aws:TokenIssueTime": "2019-12-31T23:59:59Z"}, False),
    ("date-iam-user-without-token-denied", OPERATORS,
     _statement({"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}),
     USER, "iam:UpdateAccessKey", "arn:aws:iam::111122223333:user/Bob", {}, False),
    ("date-epoch-request-value", OPERATORS,
     _statement({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
                 "DateGreaterThanEquals": {"aws:CurrentTime": "2020-01-01"}}),
     USER, "iam:UpdateAccessKey", "arn:aws:iam::111122223333:user/Bob", {"aws:CurrentTime": "1700000000"}, True),
    ("date-equals-and-not-equals", OPERATORS,
     _statement({"DateEquals": {"aws:CurrentTime": "2024-05-01T00:00:00Z"},
                 "DateNotEquals": {"aws:EpochTime": 0}, "DateLessThanEquals": {"aws:EpochTime": "1714521600"}}),
     USER, "iam:UpdateAccessKey", "arn:aws:iam::111122223333:user/Bob",
     {"aws:CurrentTime": "2024-05-01T00:00:00+00:00", "aws:EpochTime": "1714521600"}, True),
    # --- Bool (the doc's example is a Deny; an Allow of everything stands beside it)
    ("bool-securetransport-false-denied", OPERATORS,
     {"Version": "2012-10-17", "Statement": [
         {"Sid": "BooleanExample", "Action": "s3:*", "Effect": "Deny",
          "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
          "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
         {"Effect": "Allow", "Action": "*", "Resource": "*"}]},
     USER, "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a.txt", {"aws:SecureTransport": "false"}, False),
    ("bool-securetransport-true-allowed", OPERATORS,
     {"Version": "2012-10-17", "Statement": [
         {"Sid": "BooleanExample", "Action": "s3:*", "Effect": "Deny",
          "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
          "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
         {"Effect": "Allow", "Action": "*", "Resource": "*"}]},
     USER, "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a.txt", {"aws:SecureTransport": "true"}, True),
    ("bool-json-true-policy-value", KMS_CONDITIONS,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"Bool": {"aws:SecureTransport": True}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "TRUE"}, True),
    # --- Binary
    ("binaryequals-same-bytes", OPERATORS,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}, True),
    ("binaryequals-other-bytes", OPERATORS,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {"key": "T3RoZXI="}, False),
    # --- IP address
    ("ipaddress-in-range", OPERATORS,
     _statement({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
     USER, "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/Bob", {"aws:SourceIp": "203.0.113.77"}, True),
    ("ipaddress-out-of-range", OPERATORS,
     _statement({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
     USER, "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/Bob", {"aws:SourceIp": "198.51.100.7"}, False),
    ("ipaddress-ipv6-range", OPERATORS,
     {"Effect": "Allow", "Action": "someservice:*", "Resource": "*",
      "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}},
     USER, "someservice:Do", "arn:aws:someservice:us-east-1:111122223333:thing/x",
     {"aws:SourceIp": "2001:db8:1234:5678::9"}, True),
    ("ipaddress-bare-address-is-slash-32", OPERATORS,
     {"Effect": "Allow", "Action": "someservice:*", "Resource": "*",
      "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.5"}}},
     USER, "someservice:Do", "*", {"aws:SourceIp": "203.0.113.6"}, False),
    ("notipaddress-outside", OPERATORS,
     {"Effect": "Allow", "Action": "someservice:*", "Resource": "*",
      "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}},
     USER, "someservice:Do", "*", {"aws:SourceIp": "198.51.100.7"}, True),
    # --- ARN
    ("arnlike-segments-fail-where-stringlike-succeeds", OPERATORS,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k",
     {"aws:SourceArn": "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"},
     False),
    ("stringlike-spans-colons", OPERATORS,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"StringLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k",
     {"aws:SourceArn": "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"},
     True),
    ("arnlike-matching-segments", OPERATORS,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k",
     {"aws:SourceArn": "arn:aws:someservice:us-east-2:111122223333:finance/q1:report.txt"}, True),
    ("arnequals-behaves-like-arnlike", OPERATORS,
     {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*",
      "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:111122223333:TOPIC-?D"}}},
     USER, "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:QUEUE-ID",
     {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:TOPIC-ID"}, True),
    ("arnequals-is-case-sensitive", OPERATORS,
     {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*",
      "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:topic-id"}}},
     USER, "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:QUEUE-ID",
     {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:TOPIC-ID"}, False),
    ("arnnotlike-missing-key-is-true", OPERATORS,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {}, True),
    ("arnnotequals-other-arn", OPERATORS,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/Mallory"}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {}, True),
    ("arnlike-not-an-arn-does-not-match", OPERATORS,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SourceArn": "not-an-arn"}, False),
    # --- IfExists
    ("ifexists-key-absent-is-true", OPERATORS,
     {"Sid": "RunInstance", "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
      "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}},
     USER, "ec2:RunInstances", "arn:aws:ec2:us-east-1:111122223333:security-group/sg-1", {}, True),
    ("ifexists-key-present-other-value", OPERATORS,
     {"Sid": "RunInstance", "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
      "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}},
     USER, "ec2:RunInstances", "arn:aws:ec2:us-east-1:111122223333:instance/*", {"ec2:InstanceType": "m5.large"},
     False),
    ("ifexists-key-present-matching", OPERATORS,
     {"Sid": "RunInstance", "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
      "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}},
     USER, "ec2:RunInstances", "arn:aws:ec2:us-east-1:111122223333:instance/*", {"ec2:InstanceType": "t2.micro"},
     True),
    ("without-ifexists-the-key-must-exist", OPERATORS,
     {"Sid": "THISPOLICYDOESNOTWORK", "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
      "Condition": {"StringLike": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}},
     USER, "ec2:RunInstances", "arn:aws:ec2:us-east-1:111122223333:security-group/sg-1", {}, False),
    ("deny-with-negated-ifexists-still-denies-when-missing", OPERATORS,
     {"Version": "2012-10-17", "Statement": [
         {"Effect": "Deny", "Action": "ec2:*", "Resource": "*",
          "Condition": {"StringNotEqualsIfExists": {"aws:ResourceTag/team": "blue"}}},
         {"Effect": "Allow", "Action": "*", "Resource": "*"}]},
     USER, "ec2:StopInstances", "arn:aws:ec2:us-east-1:111122223333:instance/i-1", {}, False),
    # --- Null
    ("null-true-key-absent", OPERATORS,
     {"Action": "ec2:*", "Effect": "Allow", "Resource": "*", "Condition": {"Null": {"aws:TokenIssueTime": "true"}}},
     USER, "ec2:DescribeInstances", "*", {}, True),
    ("null-true-key-present", OPERATORS,
     {"Action": "ec2:*", "Effect": "Allow", "Resource": "*", "Condition": {"Null": {"aws:TokenIssueTime": "true"}}},
     ROLE, "ec2:DescribeInstances", "*", {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, False),
    ("null-false-json-boolean", OPERATORS,
     {"Action": "ec2:*", "Effect": "Allow", "Resource": "*", "Condition": {"Null": {"aws:TokenIssueTime": False}}},
     ROLE, "ec2:DescribeInstances", "*", {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, True),
    # --- set operators
    ("forallvalues-subset-allowed", MULTI,
     {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:us-east-1:111122223333:table/Thread",
      "Condition": {"ForAllValues:StringLike": {"dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]}}},
     USER, "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:111122223333:table/Thread",
     {"dynamodb:requestedAttributes": ["PostDateTime", "Message"]}, True),
    ("forallvalues-one-outside-denied", MULTI,
     {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:us-east-1:111122223333:table/Thread",
      "Condition": {"ForAllValues:StringLike": {"dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]}}},
     USER, "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:111122223333:table/Thread",
     {"dynamodb:requestedAttributes": ["PostDateTime", "UserName"]}, False),
    ("forallvalues-key-absent-is-true", SINGLE_MULTI,
     {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*",
      "Condition": {"ForAllValues:StringLike": {"dynamodb:requestedAttributes": ["PostDateTime"]}}},
     USER, "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:111122223333:table/Thread", {}, True),
    ("forallvalues-empty-data-set-is-true", MULTI,
     {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*",
      "Condition": {"ForAllValues:StringLike": {"dynamodb:requestedAttributes": ["PostDateTime"]}}},
     USER, "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:111122223333:table/Thread",
     {"dynamodb:requestedAttributes": []}, True),
    ("foranyvalue-deny-one-forbidden-attribute", MULTI,
     {"Version": "2012-10-17", "Statement": [
         {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": "arn:aws:dynamodb:us-east-1:111122223333:table/Thread",
          "Condition": {"ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}}},
         {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]},
     USER, "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:111122223333:table/Thread",
     {"dynamodb:requestedAttributes": ["UserName", "Message", "PostDateTime"]}, False),
    ("foranyvalue-deny-no-forbidden-attribute", MULTI,
     {"Version": "2012-10-17", "Statement": [
         {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": "arn:aws:dynamodb:us-east-1:111122223333:table/Thread",
          "Condition": {"ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}}},
         {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]},
     USER, "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:111122223333:table/Thread",
     {"dynamodb:requestedAttributes": ["UserName"]}, True),
    ("foranyvalue-key-absent-is-false", SINGLE_MULTI,
     {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*",
      "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment"]}}},
     USER, "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:111122223333:table/Thread", {}, False),
    ("forallvalues-grantoperations-decrypt-only", KMS_CONDITIONS,
     {"Effect": "Allow", "Action": "kms:ListKeys", "Resource": "*",
      "Condition": {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt", "Decrypt"]}}},
     USER, "kms:ListKeys", "*", {"kms:GrantOperations": ["Decrypt", "RetireGrant"]}, False),
    ("forallvalues-negated-none-in-list", SINGLE_MULTI,
     {"Effect": "Allow", "Action": "iam:TagUser", "Resource": "*",
      "Condition": {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["admin", "owner"]}}},
     USER, "iam:TagUser", "arn:aws:iam::111122223333:user/Bob", {"aws:TagKeys": ["team", "cost"]}, True),
    ("foranyvalue-ifexists-absent-is-true", SINGLE_MULTI,
     {"Effect": "Allow", "Action": "iam:TagUser", "Resource": "*",
      "Condition": {"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": ["team"]}}},
     USER, "iam:TagUser", "arn:aws:iam::111122223333:user/Bob", {}, True),
    # --- several keys (AND), several values (OR), key names case-insensitive
    ("several-keys-all-must-match", CONDITION,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"StringEquals": {"aws:PrincipalTag/department": "finance", "aws:PrincipalTag/level": "2"}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:PrincipalTag/department": "finance", "aws:PrincipalTag/level": "3"},
     False),
    ("several-values-any-may-match", CONDITION,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"StringEquals": {"aws:PrincipalTag/department": ["finance", "hr", "legal"]}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:PrincipalTag/department": "hr"}, True),
    ("condition-key-names-are-case-insensitive", VARIABLES,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"DateLessThan": {"AWS:currenttime": "2030-01-01T00:00:00Z"}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:CurrentTime": "2024-01-01T00:00:00Z"}, True),
    # --- policy variables
    ("variable-username-in-resource", VARIABLES,
     {"Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow", "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"]},
     USER, "s3:GetObject", "arn:aws:s3:::mybucket/David/notes.txt", {}, True),
    ("variable-username-other-folder", VARIABLES,
     {"Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow", "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"]},
     USER, "s3:GetObject", "arn:aws:s3:::mybucket/Adele/notes.txt", {}, False),
    ("variable-username-unresolved-for-role", VARIABLES,
     {"Action": ["s3:GetObject"], "Effect": "Allow", "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"]},
     ROLE, "s3:GetObject", "arn:aws:s3:::mybucket/Admin/notes.txt", {}, False),
    ("variable-username-queue-wildcard-account", VARIABLES,
     {"Sid": "AllQueueActions", "Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:us-east-2:*:${aws:username}-queue"},
     USER, "sqs:SendMessage", "arn:aws:sqs:us-east-2:111122223333:David-queue", {}, True),
    ("variable-principaltag-in-resource", VARIABLES,
     {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": ["arn:aws:s3:::bucket/${aws:PrincipalTag/department}"]},
     USER, "s3:ListBucket", "arn:aws:s3:::bucket/HumanResources", {"aws:PrincipalTag/department": "HumanResources"}, True),
    ("variable-in-condition-value", VARIABLES,
     {"Effect": "Allow", "Action": "sns:*", "Resource": "*",
      "Condition": {"StringLike": {"sns:endpoint": "https://example.com/${aws:username}/"}, "StringEquals": {"sns:Protocol": "https"}}},
     USER, "sns:Subscribe", "arn:aws:sns:us-east-1:111122223333:topic",
     {"sns:Endpoint": "https://example.com/David/", "sns:Protocol": "https"}, True),
    ("variable-special-star-is-literal", VARIABLES,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mybucket/${*}starred"},
     USER, "s3:GetObject", "arn:aws:s3:::mybucket/anything-starred", {}, False),
    ("variable-special-star-matches-star", VARIABLES,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mybucket/${*}starred"},
     USER, "s3:GetObject", "arn:aws:s3:::mybucket/*starred", {}, True),
    ("variable-special-question-and-dollar", VARIABLES,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"StringLike": {"s3:prefix": "why${?}${$}"}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {"s3:prefix": "why?$"}, True),
    ("variable-default-value", VARIABLES,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"StringEquals": {"aws:Resource": "arn:aws:s3:::/bucket/${aws:userid, 'anonymous'}"}}},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:Resource": "arn:aws:s3:::/bucket/anonymous"}, True),
    ("variables-are-literal-in-version-2008", VARIABLES,
     {"Version": "2008-10-17", "Statement": [
         {"Action": ["s3:GetObject"], "Effect": "Allow", "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"]}]},
     USER, "s3:GetObject", "arn:aws:s3:::mybucket/David/notes.txt", {}, False),
    # --- Action / NotAction
    ("action-wildcard-in-name", ACTION, ACCESS_KEY_STATEMENT,
     USER, "iam:ListAccessKeys", "arn:aws:iam::111122223333:user/Bob", {}, True),
    ("action-wildcard-no-match", ACTION, ACCESS_KEY_STATEMENT,
     USER, "iam:ListUsers", "arn:aws:iam::111122223333:user/Bob", {}, False),
    ("action-case-insensitive", ACTION,
     {"Effect": "Allow", "Action": "IAM:listaccesskeys", "Resource": "*"},
     USER, "iam:ListAccessKeys", "arn:aws:iam::111122223333:user/Bob", {}, True),
    ("action-question-mark", ACTION,
     {"Effect": "Allow", "Action": "kms:ReEncrypt????", "Resource": "*"},
     USER, "kms:ReEncryptFrom", "*", {}, True),
    ("action-star-everything", ACTION,
     {"Effect": "Allow", "Action": "*", "Resource": "*"},
     USER, "kms:ScheduleKeyDeletion", "*", {}, True),
    ("notaction-allows-everything-else", NOTACTION,
     {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {}, True),
    ("notaction-excludes-listed", NOTACTION,
     {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
     USER, "iam:CreateUser", "arn:aws:iam::111122223333:user/Bob", {}, False),
    # --- Resource / NotResource
    ("resource-wildcard-in-path", RESOURCE,
     {"Effect": "Allow", "Action": "iam:*AccessKey*", "Resource": "arn:aws:iam::111122223333:user/division_abc/subdivision_xyz/*"},
     USER, "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/division_abc/subdivision_xyz/Bob", {}, True),
    ("resource-wildcard-does-not-cross-region-segment", RESOURCE,
     {"Effect": "Allow", "Action": "ec2:*", "Resource": "arn:aws:ec2:us-*:111122223333:instance/*"},
     USER, "ec2:StartInstances", "arn:aws:ec2:eu-west-1:111122223333:instance/i-1", {}, False),
    ("resource-wildcard-within-region-segment", RESOURCE,
     {"Effect": "Allow", "Action": "ec2:*", "Resource": "arn:aws:ec2:us-*:111122223333:instance/*"},
     USER, "ec2:StartInstances", "arn:aws:ec2:us-west-2:111122223333:instance/i-1", {}, True),
    ("resource-alias-arn-does-not-match-key-arn", RESOURCE,
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/k?"},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {}, False),
    ("notresource-excludes-listed", NOTRESOURCE,
     {"Effect": "Allow", "Action": "s3:*", "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]},
     USER, "s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/salaries.csv", {}, False),
    ("notresource-allows-others", NOTRESOURCE,
     {"Effect": "Allow", "Action": "s3:*", "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]},
     USER, "s3:GetObject", "arn:aws:s3:::HRBucket/Public/menu.txt", {}, True),
    # --- no statement at all: implicit deny
    ("empty-policy-denies", "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html",
     {"Version": "2012-10-17", "Statement": []},
     USER, "s3:GetObject", "arn:aws:s3:::b/k", {}, False),
]


def _document(statement_or_document: dict) -> dict:
    if "Statement" in statement_or_document:
        return statement_or_document
    return {"Version": "2012-10-17", "Statement": [statement_or_document]}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_documented_example(case: tuple) -> None:
    case_id, source, policy, principal, action, resource, context, allowed = case
    assert source.startswith("https://docs.aws.amazon.com/")
    decision = evaluate(Request(principal, action, resource, context),
                        PolicySet(identity=[Policy(_document(policy), f"inline:{case_id}")]))
    assert decision.allowed is allowed, "\n".join(decision.explanation)
    if not allowed:
        assert decision.decided_by in ("identity-policy", "explicit-deny")


def test_failed_condition_is_named_in_the_explanation() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
    policy = _document({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::example_bucket",
                        "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}}})
    decision = evaluate(Request(USER, "s3:ListBucket", "arn:aws:s3:::example_bucket", {"s3:max-keys": "50"}),
                        PolicySet(identity=[Policy(policy, "inline:ListUpTo10")]))
    text = "\n".join(decision.explanation)
    assert "inline:ListUpTo10 Statement[0]" in text
    assert "NumericLessThanEquals s3:max-keys" in text and "50" in text


def test_explicit_deny_names_the_statement_and_layer() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Boolean
    document = CASES[[c[0] for c in CASES].index("bool-securetransport-false-denied")][2]
    decision = evaluate(Request(USER, "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a", {"aws:SecureTransport": "false"}),
                        PolicySet(identity=[Policy(document, "managed:arn:aws:iam::111122223333:policy/TLS")]))
    assert decision.decided_by == "explicit-deny" and decision.explicit
    assert decision.layer == "identity-policy"
    assert decision.statement == 'managed:arn:aws:iam::111122223333:policy/TLS Statement[0] "BooleanExample"'
    assert decision.to_dict() == {"decision": "deny", "decided_by": "explicit-deny",
                                  "explanation": decision.explanation}
