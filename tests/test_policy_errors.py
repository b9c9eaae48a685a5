"""Malformed policies and requests raise kit.errors.BadInput naming `<policy>: Statement[i].<field>`.

Grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
Principal (no partial wildcards): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
"""

from __future__ import annotations

import pytest

from kit.errors import BadInput
from kit.policy import Policy, PolicySet, Request, parse_policy
from kit.policy.case import load_case

OK = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}


def _doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize("statement, field, expected", [
    ({"Action": "kms:Decrypt", "Resource": "*"}, "inline:P: Statement[1].Effect", '"Allow" or "Deny"'),
    ({**OK, "Effect": "allow"}, "inline:P: Statement[1].Effect", '"Allow" or "Deny"'),
    ({"Effect": "Allow", "Resource": "*"}, "inline:P: Statement[1].Action", "Action or NotAction"),
    ({"Effect": "Allow", "Action": "kms:Decrypt"}, "inline:P: Statement[1].Resource", "Resource or NotResource"),
    ({**OK, "NotAction": "kms:Encrypt"}, "inline:P: Statement[1].NotAction", "not both"),
    ({**OK, "Action": 42}, "inline:P: Statement[1].Action", "string"),
    ({**OK, "Action": []}, "inline:P: Statement[1].Action", "non-empty"),
    ({**OK, "Action": "Decrypt"}, "inline:P: Statement[1].Action", "service:Action"),
    ({**OK, "Resource": ["*", None]}, "inline:P: Statement[1].Resource", "string"),
    ({**OK, "Sid": 7}, "inline:P: Statement[1].Sid", "a string"),
    ({**OK, "Efect": "Allow"}, "inline:P: Statement[1].Efect", "statement fields"),
    ({**OK, "Condition": {"StringEqualz": {"kms:ViaService": "x"}}},
     "inline:P: Statement[1].Condition.StringEqualz", "known condition operator"),
    ({**OK, "Condition": {"NullIfExists": {"kms:ViaService": "true"}}},
     "inline:P: Statement[1].Condition.NullIfExists", "known condition operator"),
    ({**OK, "Condition": {"ForSomeValues:StringEquals": {"kms:ViaService": "x"}}},
     "inline:P: Statement[1].Condition.ForSomeValues:StringEquals", "known condition operator"),
    ({**OK, "Condition": {"NumericLessThan": {"s3:max-keys": "ten"}}},
     "inline:P: Statement[1].Condition.NumericLessThan.s3:max-keys", "a number"),
    ({**OK, "Condition": {"DateGreaterThan": {"aws:CurrentTime": "yesterday"}}},
     "inline:P: Statement[1].Condition.DateGreaterThan.aws:CurrentTime", "a date"),
    ({**OK, "Condition": {"Bool": {"kms:GrantIsForAWSResource": "yes"}}},
     "inline:P: Statement[1].Condition.Bool.kms:GrantIsForAWSResource", "true or false"),
    ({**OK, "Condition": {"IpAddress": {"aws:SourceIp": "300.1.2.3/8"}}},
     "inline:P: Statement[1].Condition.IpAddress.aws:SourceIp", "CIDR"),
    ({**OK, "Condition": {"BinaryEquals": {"key": "not base64!"}}},
     "inline:P: Statement[1].Condition.BinaryEquals.key", "base64"),
    ({**OK, "Condition": {"StringEquals": {"kms:ViaService": {"nested": 1}}}},
     "inline:P: Statement[1].Condition.StringEquals.kms:ViaService", "string, number or boolean"),
    ({**OK, "Condition": {"StringEquals": {"kms:ViaService": []}}},
     "inline:P: Statement[1].Condition.StringEquals.kms:ViaService", "at least one value"),
    ({**OK, "Condition": ["StringEquals"]}, "inline:P: Statement[1].Condition", "condition operators"),
    ({**OK, "Condition": {"StringEquals": "kms:ViaService"}}, "inline:P: Statement[1].Condition.StringEquals",
     "condition keys"),
])
def test_bad_statement_is_named(statement: dict, field: str, expected: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_policy(_doc(OK, statement), "inline:P")
    assert caught.value.field == field
    assert expected in caught.value.expected
    assert str(caught.value).startswith(field)


@pytest.mark.parametrize("principal, field", [
    ({"AWS": "arn:aws:iam::111122223333:user/*"}, "key-policy: Statement[0].Principal.AWS"),
    ({"AWS": "arn:aws:iam::111122223333:role/app-?"}, "key-policy: Statement[0].Principal.AWS"),
    ({"AWS": "1111222233*"}, "key-policy: Statement[0].Principal.AWS"),
    ({"AWS": "alice"}, "key-policy: Statement[0].Principal.AWS"),
    ({"Service": "*"}, "key-policy: Statement[0].Principal.Service"),
    ({"Group": "arn:aws:iam::111122223333:group/admins"}, "key-policy: Statement[0].Principal.Group"),
    ("arn:aws:iam::111122223333:root", "key-policy: Statement[0].Principal"),
    ({}, "key-policy: Statement[0].Principal"),
])
def test_partial_wildcards_and_bad_principals_are_refused(principal: object, field: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_policy(_doc({**OK, "Principal": principal}), "key-policy")
    assert caught.value.field == field


def test_document_level_errors() -> None:
    with pytest.raises(BadInput, match="inline:P: Statement"):
        parse_policy({"Version": "2012-10-17"}, "inline:P")
    with pytest.raises(BadInput, match="inline:P: Version"):
        parse_policy({"Version": "2019-01-01", "Statement": []}, "inline:P")
    with pytest.raises(BadInput, match="inline:P: expected a JSON policy document"):
        parse_policy('{"Version": "2012-10-17", "Statement": [', "inline:P")
    with pytest.raises(BadInput, match="inline:P"):
        parse_policy(["not", "a", "dict"], "inline:P")  # type: ignore[arg-type]


def test_a_json_string_and_a_single_statement_object_are_accepted() -> None:
    policy = parse_policy('{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}',
                          "inline:S")
    assert len(policy.statements) == 1 and policy.statements[0].effect == "Deny"
    assert policy.statements[0].label == "Statement[0]"


def test_principal_out_of_place_and_missing_in_key_policy() -> None:
    with pytest.raises(BadInput) as caught:
        PolicySet(identity=[Policy(_doc(OK, {**OK, "Principal": "*"}), "inline:P")])
    assert caught.value.field == "inline:P: Statement[1].Principal"
    with pytest.raises(BadInput) as caught:
        PolicySet(resource_policy=Policy(_doc(OK), "key-policy"))
    assert caught.value.field == "key-policy: Statement[0].Principal"


@pytest.mark.parametrize("kwargs, field", [
    ({"action": "CreateGrant"}, "action"),
    ({"action": "kms:"}, "action"),
    ({"resource": ""}, "resource"),
    ({"principal_arn": "alice"}, "principal_arn"),
    ({"principal_arn": "arn:aws:s3:::bucket"}, "principal_arn"),
    ({"principal_type": "robot"}, "principal_type"),
    ({"context": {"kms:GrantOperations": [{"x": 1}]}}, "context.kms:GrantOperations"),
])
def test_bad_requests(kwargs: dict, field: str) -> None:
    from kit.policy import evaluate

    base = {"principal_arn": "arn:aws:iam::111122223333:user/Alice", "action": "kms:Decrypt",
            "resource": "arn:aws:kms:us-east-1:111122223333:key/k"}
    with pytest.raises(BadInput) as caught:
        evaluate(Request(**{**base, **kwargs}), PolicySet())
    assert caught.value.field == field


def test_case_errors_name_the_place() -> None:
    case = {"principal_arn": "arn:aws:iam::111122223333:user/Alice", "action": "kms:Decrypt",
            "resource": "arn:aws:kms:us-east-1:111122223333:key/k",
            "identity_policies": [_doc(OK), _doc({"Effect": "Maybe", "Action": "*", "Resource": "*"})]}
    with pytest.raises(BadInput) as caught:
        load_case(case)
    assert caught.value.field == "identity_policies[1]: Statement[0].Effect"
    with pytest.raises(BadInput) as caught:
        load_case({**case, "identity_policies": [], "scps": [{"Statement": []}]})
    assert caught.value.field == "scps"
    with pytest.raises(BadInput) as caught:
        load_case({**case, "identity_policies": [], "resource_policy": _doc({**OK, "Principal": {"AWS": "*"},
                                                                                "Condition": {"Foo": {"a": "b"}}})})
    assert caught.value.field == "key-policy: Statement[0].Condition.Foo"
    with pytest.raises(BadInput) as caught:
        load_case({"action": "kms:Decrypt"})
    assert caught.value.field == "principal_arn"
