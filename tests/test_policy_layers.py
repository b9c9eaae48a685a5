"""Policy layers around a KMS key: key policy, identity policies, boundaries, SCPs, session policies,
principal forms, same- and cross-account. Each test cites the AWS page whose rule it checks."""

from __future__ import annotations

from kit.policy import Policy, PolicySet, Request, evaluate

KEY_POLICIES = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html"
DEFAULT_KEY_POLICY = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"
EXTERNAL = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html"
KMS_EVAL = "https://docs.aws.amazon.com/kms/latest/developerguide/policy-evaluation.html"
BOUNDARIES = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html"
SESSION = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session"
SCPS = "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html"
NOTPRINCIPAL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html"
PRINCIPAL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html"
EVAL_LOGIC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html"

ACCT = "111122223333"
OTHER = "444455556666"
KEY = f"arn:aws:kms:us-west-2:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
FOREIGN_KEY = f"arn:aws:kms:us-west-2:{OTHER}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALICE = f"arn:aws:iam::{ACCT}:user/Alice"
ROLE = f"arn:aws:iam::{ACCT}:role/EncryptionApp"
SESSION_ARN = f"arn:aws:sts::{ACCT}:assumed-role/EncryptionApp/app-1"
SLR = f"arn:aws:iam::{ACCT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
EC2_GRANT = {"kms:GrantIsForAWSResource": "true", "kms:ViaService": "ec2.us-west-2.amazonaws.com",
             "kms:GrantOperations": ["Decrypt"]}


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def key_policy(*statements: dict) -> Policy:
    return Policy(doc(*statements), "key-policy")


def root_statement(account: str = ACCT) -> dict:
    return {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}


def names(principal: str, action: str | list[str] = "kms:CreateGrant", sid: str = "Named") -> dict:
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": "*"}


def allow(action: str = "kms:*", resource: str = "*", name: str = "inline:Allow") -> Policy:
    return Policy(doc({"Effect": "Allow", "Action": action, "Resource": resource}), name)


def deny(action: str = "kms:*", name: str = "inline:Deny") -> Policy:
    return Policy(doc({"Sid": "NoKms", "Effect": "Deny", "Action": action, "Resource": "*"}), name)


def decide(principal: str, policies: PolicySet, action: str = "kms:CreateGrant", resource: str = KEY,
           context: dict | None = None, principal_type: str | None = None):
    return evaluate(Request(principal, action, resource, context or dict(EC2_GRANT), principal_type), policies)


# --- the key policy is always required --------------------------------------------------------------

def test_default_key_policy_delegates_and_iam_allows() -> None:
    # DEFAULT_KEY_POLICY: the root statement "enables IAM policies" in the account
    d = decide(ALICE, PolicySet(identity=[allow()], resource_policy=key_policy(root_statement())))
    assert d.allowed and d.decided_by == "allowed"
    assert "delegates to IAM" in d.explanation[-1]


def test_bare_account_id_principal_is_the_account() -> None:
    # PRINCIPAL: "You can specify the account ID ... or the root ARN; they are equivalent"
    policy = key_policy({"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "kms:*", "Resource": "*"})
    assert decide(ALICE, PolicySet(identity=[allow()], resource_policy=policy)).allowed
    assert decide(ALICE, PolicySet(resource_policy=policy)).decided_by == "identity-policy"


def test_iam_policy_alone_is_not_enough_without_the_key_policy() -> None:
    # KEY_POLICIES: "no AWS principal ... has any permissions to a KMS key unless ... the key policy" allows it
    d = decide(ALICE, PolicySet(identity=[allow()], resource_policy=key_policy(names(f"arn:aws:iam::{ACCT}:user/Bob"))))
    assert not d.allowed and d.decided_by == "key-policy"
    assert "names arn:aws:iam::111122223333:user/Bob, not this caller" in "\n".join(d.explanation)
    d = decide(ALICE, PolicySet(identity=[allow()]))
    assert not d.allowed and d.decided_by == "key-policy" and "no key policy" in d.explanation[-1]


def test_key_policy_naming_the_user_is_enough_on_its_own() -> None:
    # KMS_EVAL example: a key policy statement that names the principal allows without IAM policies
    d = decide(ALICE, PolicySet(resource_policy=key_policy(names(ALICE, sid="Allow Alice"))))
    assert d.allowed and d.statement == 'key-policy Statement[0] "Allow Alice"'


def test_root_user_needs_the_key_policy_to_name_the_account() -> None:
    # KEY_POLICIES: a key policy without the account principal locks out even the root user
    root = f"arn:aws:iam::{ACCT}:root"
    assert decide(root, PolicySet(resource_policy=key_policy(root_statement()))).allowed
    d = decide(root, PolicySet(resource_policy=key_policy(names(ALICE))))
    assert not d.allowed and d.decided_by == "key-policy"


def test_explicit_deny_in_key_policy_overrides_identity_allow() -> None:
    # KMS_EVAL: "An explicit deny in either of these policies overrides the allow"
    policy = key_policy(root_statement(), {"Sid": "NoGrantsForAlice", "Effect": "Deny", "Principal": {"AWS": ALICE},
                                           "Action": "kms:CreateGrant", "Resource": "*"})
    d = decide(ALICE, PolicySet(identity=[allow()], resource_policy=policy))
    assert (d.decision, d.decided_by, d.layer, d.explicit) == ("deny", "explicit-deny", "key-policy", True)
    assert d.statement == 'key-policy Statement[1] "NoGrantsForAlice"'


def test_key_policy_deny_naming_the_account_covers_its_principals() -> None:
    # PRINCIPAL: an account principal in a resource policy stands for every principal of the account
    policy = key_policy(names(ALICE), {"Effect": "Deny", "Principal": {"AWS": ACCT}, "Action": "kms:*", "Resource": "*"})
    d = decide(ALICE, PolicySet(resource_policy=policy))
    assert d.decided_by == "explicit-deny" and d.layer == "key-policy"


# --- role sessions ---------------------------------------------------------------------------------------

def test_role_arn_in_key_policy_matches_its_sessions() -> None:
    # PRINCIPAL: "When you specify a role ARN in the Principal element, ... the role session" matches
    policy = key_policy(names(ROLE, sid="Allow attachment of persistent resources"))
    assert decide(ROLE, PolicySet(resource_policy=policy), principal_type="role_session").allowed
    assert decide(SESSION_ARN, PolicySet(resource_policy=policy)).allowed
    other = f"arn:aws:iam::{ACCT}:role/Other"
    assert not decide(other, PolicySet(resource_policy=policy), principal_type="role_session").allowed


def test_session_arn_in_key_policy_matches_only_that_session() -> None:
    # PRINCIPAL: role session principals, arn:aws:sts::<acct>:assumed-role/<role>/<session>
    policy = key_policy(names(SESSION_ARN))
    assert decide(SESSION_ARN, PolicySet(resource_policy=policy)).allowed
    assert not decide(f"arn:aws:sts::{ACCT}:assumed-role/EncryptionApp/app-2", PolicySet(resource_policy=policy)).allowed


def test_role_with_path_matches_session_arn_without_path() -> None:
    # PRINCIPAL: assumed-role ARNs carry no path; the role is identified by account and name
    policy = key_policy(names(f"arn:aws:iam::{ACCT}:role/team/EncryptionApp"))
    assert decide(SESSION_ARN, PolicySet(resource_policy=policy)).allowed


# --- cross-account ----------------------------------------------------------------------------------------

def test_cross_account_needs_both_sides() -> None:
    # EXTERNAL: the key policy must allow the external account AND its IAM policies must allow the principal
    key = key_policy(root_statement(OTHER), {"Sid": "Allow 111122223333", "Effect": "Allow",
                                             "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
                                             "Action": ["kms:Decrypt", "kms:CreateGrant"], "Resource": "*"})
    assert decide(ALICE, PolicySet(identity=[allow(resource=FOREIGN_KEY)], resource_policy=key), resource=FOREIGN_KEY).allowed
    d = decide(ALICE, PolicySet(resource_policy=key), resource=FOREIGN_KEY)
    assert not d.allowed and d.decided_by == "identity-policy"
    d = decide(ALICE, PolicySet(identity=[allow()], resource_policy=key_policy(root_statement(OTHER))), resource=FOREIGN_KEY)
    assert not d.allowed and d.decided_by == "key-policy" and "cross-account" in d.explanation[0]


def test_cross_account_naming_the_user_still_needs_iam() -> None:
    # EXTERNAL: "the key policy ... and IAM policies in the external account" must both allow
    key = key_policy(root_statement(OTHER), names(ALICE))
    assert decide(ALICE, PolicySet(resource_policy=key), resource=FOREIGN_KEY).decided_by == "identity-policy"
    assert decide(ALICE, PolicySet(identity=[allow()], resource_policy=key), resource=FOREIGN_KEY).allowed


def test_iam_resource_must_be_the_key_arn_not_an_alias() -> None:
    # https://docs.aws.amazon.com/kms/latest/developerguide/cmks-in-iam-policies.html: aliases do not match key ARNs
    alias = allow("kms:CreateGrant", f"arn:aws:kms:us-west-2:{ACCT}:alias/ebs-key", "inline:ByAlias")
    d = decide(ALICE, PolicySet(identity=[alias], resource_policy=key_policy(root_statement())))
    assert not d.allowed and d.decided_by == "identity-policy"
    assert "does not match" in "\n".join(d.explanation) and "alias/ebs-key" in "\n".join(d.explanation)


def test_principal_star_in_key_policy_cross_account() -> None:
    # EVAL_LOGIC cross-account: a resource policy allowing "*" still needs the other account's IAM allow
    key = key_policy({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"})
    assert not decide(ALICE, PolicySet(resource_policy=key), "kms:Decrypt", FOREIGN_KEY).allowed
    assert decide(ALICE, PolicySet(identity=[allow()], resource_policy=key), "kms:Decrypt", FOREIGN_KEY).allowed
    # in the same account, "*" grants directly
    assert decide(ALICE, PolicySet(resource_policy=key), "kms:Decrypt").allowed


# --- permissions boundaries ---------------------------------------------------------------------------

def test_boundary_limits_identity_grants() -> None:
    # BOUNDARIES: the entity can do only what both its identity policies and its boundary allow
    d = decide(ALICE, PolicySet(identity=[allow()], resource_policy=key_policy(root_statement()),
                                boundary=allow("ec2:*", name="boundary")))
    assert d.decided_by == "permissions-boundary" and d.layer == "permissions-boundary"


def test_boundary_does_not_limit_key_policy_grant_to_a_user() -> None:
    # BOUNDARIES (resource-based policies): an implicit deny in a boundary does not limit permissions a
    # resource-based policy grants to an IAM user
    d = decide(ALICE, PolicySet(resource_policy=key_policy(names(ALICE)), boundary=allow("ec2:*", name="boundary")))
    assert d.allowed


def test_boundary_limits_key_policy_grant_to_a_role_but_not_to_a_session() -> None:
    # BOUNDARIES: a grant to the role ARN is limited by the boundary; one to the session ARN is not
    boundary = allow("ec2:*", name="boundary")
    d = decide(SESSION_ARN, PolicySet(resource_policy=key_policy(names(ROLE)), boundary=boundary))
    assert not d.allowed and d.decided_by == "permissions-boundary"
    assert decide(SESSION_ARN, PolicySet(resource_policy=key_policy(names(SESSION_ARN)), boundary=boundary)).allowed


def test_explicit_deny_in_boundary() -> None:
    # EVAL_LOGIC: an explicit deny in any policy overrides allows
    boundary = Policy(doc({"Effect": "Allow", "Action": "*", "Resource": "*"},
                          {"Effect": "Deny", "Action": "kms:CreateGrant", "Resource": "*"}), "boundary")
    d = decide(ALICE, PolicySet(resource_policy=key_policy(names(ALICE)), boundary=boundary))
    assert (d.decided_by, d.layer) == ("explicit-deny", "permissions-boundary")


def test_notprincipal_deny_always_applies_with_a_boundary() -> None:
    # BOUNDARIES: "The NotPrincipal element with a Deny effect will always deny any IAM principal that has a
    # permissions boundary policy attached, regardless of the values specified in the NotPrincipal element."
    policy = key_policy(names(ALICE), {"Effect": "Deny", "NotPrincipal": {"AWS": [ALICE, f"arn:aws:iam::{ACCT}:root"]},
                                       "Action": "kms:*", "Resource": "*"})
    assert decide(ALICE, PolicySet(resource_policy=policy)).allowed
    d = decide(ALICE, PolicySet(resource_policy=policy, boundary=allow("*", name="boundary")))
    assert d.decided_by == "explicit-deny" and d.layer == "key-policy"


# --- NotPrincipal -------------------------------------------------------------------------------------

def test_notprincipal_deny_must_list_the_account_too() -> None:
    # NOTPRINCIPAL: with Deny, list the account as well as the user, or the user is denied
    only_user = key_policy(names(ALICE), {"Effect": "Deny", "NotPrincipal": {"AWS": ALICE}, "Action": "kms:*", "Resource": "*"})
    assert decide(ALICE, PolicySet(resource_policy=only_user)).decided_by == "explicit-deny"
    both = key_policy(names(ALICE), names(f"arn:aws:iam::{ACCT}:user/Bob"),
                      {"Effect": "Deny", "NotPrincipal": {"AWS": [ALICE, ACCT]}, "Action": "kms:*", "Resource": "*"})
    assert decide(ALICE, PolicySet(resource_policy=both)).allowed
    assert decide(f"arn:aws:iam::{ACCT}:user/Bob", PolicySet(resource_policy=both)).decided_by == "explicit-deny"


def test_notprincipal_role_session_needs_session_role_and_account() -> None:
    # NOTPRINCIPAL: for an assumed role list the session ARN, the role ARN and the account
    listed = [SESSION_ARN, ROLE, f"arn:aws:iam::{ACCT}:root"]
    policy = key_policy(names(ROLE), {"Effect": "Deny", "NotPrincipal": {"AWS": listed}, "Action": "kms:*", "Resource": "*"})
    assert decide(SESSION_ARN, PolicySet(resource_policy=policy)).allowed
    partial = key_policy(names(ROLE), {"Effect": "Deny", "NotPrincipal": {"AWS": listed[1:]}, "Action": "kms:*",
                                       "Resource": "*"})
    assert decide(SESSION_ARN, PolicySet(resource_policy=partial)).decided_by == "explicit-deny"


# --- service and federated principals -----------------------------------------------------------------

def test_service_principal_in_key_policy() -> None:
    # PRINCIPAL: service principals, e.g. {"Service": "cloudtrail.amazonaws.com"}
    policy = key_policy({"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                         "Action": "kms:GenerateDataKey*", "Resource": "*"})
    assert decide("cloudtrail.amazonaws.com", PolicySet(resource_policy=policy), "kms:GenerateDataKey", context={}).allowed
    assert not decide(ALICE, PolicySet(identity=[allow()], resource_policy=policy), "kms:GenerateDataKey").allowed


def test_federated_principal() -> None:
    # PRINCIPAL: federated user sessions, arn:aws:sts::<acct>:federated-user/<name>
    fed = f"arn:aws:sts::{ACCT}:federated-user/Bob"
    policy = key_policy(names(fed, "kms:Decrypt"))
    assert decide(fed, PolicySet(resource_policy=policy), "kms:Decrypt").allowed
    assert not decide(ALICE, PolicySet(resource_policy=policy), "kms:Decrypt").allowed


# --- SCPs -----------------------------------------------------------------------------------------------

FULL = Policy(doc({"Sid": "FullAWSAccess", "Effect": "Allow", "Action": "*", "Resource": "*"}), "scp:r-root/p-FullAWSAccess")


def test_every_scp_level_must_allow() -> None:
    # SCPS: "every SCP from the root through each OU to the account must allow"
    ok = PolicySet(identity=[allow()], resource_policy=key_policy(root_statement()), scps=[[FULL], [FULL]])
    assert decide(ALICE, ok).allowed
    ec2_only = Policy(doc({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}), "scp:ou-1/p-ec2")
    d = decide(ALICE, PolicySet(identity=[allow()], resource_policy=key_policy(root_statement()), scps=[[FULL], [ec2_only]]))
    assert d.decided_by == "scp" and "level 1" in "\n".join(d.explanation)


def test_scp_limits_key_policy_grants_too() -> None:
    # SCPS: SCPs limit permissions of principals in member accounts, whatever grants them
    d = decide(ALICE, PolicySet(resource_policy=key_policy(names(ALICE)), scps=[[deny("kms:*", "scp:r-root/p-nokms"), FULL]]))
    assert (d.decided_by, d.layer) == ("explicit-deny", "scp")


def test_scps_do_not_affect_service_linked_roles() -> None:
    # SCPS: "SCPs don't affect service-linked roles"
    policy = key_policy(names(SLR, sid="Allow attachment of persistent resources"))
    d = decide(SLR, PolicySet(resource_policy=policy, scps=[[deny("kms:*", "scp:r-root/p-nokms")]]),
               principal_type="service_linked_role_session")
    assert d.allowed and any("service-linked" in line for line in d.explanation)
    # inferred from the ARN's path even when the type says only role_session
    assert decide(SLR, PolicySet(resource_policy=policy, scps=[[Policy(doc({"Effect": "Allow", "Action": "ec2:*",
                                                                              "Resource": "*"}), "scp:x")]]),
                  principal_type="role_session").allowed


def test_scps_do_not_affect_the_management_account() -> None:
    # SCPS: "SCPs don't affect users or roles in the management account"
    policies = PolicySet(identity=[allow()], resource_policy=key_policy(root_statement()),
                         scps=[[deny("kms:*", "scp:r-root/p-nokms"), FULL]], management_account_id=ACCT)
    assert decide(ALICE, policies).allowed
    policies.management_account_id = "999999999999"
    assert decide(ALICE, policies).decided_by == "explicit-deny"


# --- session policies ---------------------------------------------------------------------------------

def test_session_policy_limits_identity_grants() -> None:
    # SESSION: the session's permissions are the intersection of the identity policies and the session policies
    policies = PolicySet(identity=[allow()], resource_policy=key_policy(root_statement()),
                         session_policies=[allow("kms:Decrypt", name="session:inline")])
    d = decide(ROLE, policies, principal_type="role_session")
    assert d.decided_by == "session-policy" and d.layer == "session-policy"
    assert decide(ROLE, policies, "kms:Decrypt", principal_type="role_session").allowed


def test_session_policy_and_resource_grants() -> None:
    # SESSION: a resource policy naming the role ARN is limited by the session policy; naming the session is not
    session = [allow("kms:Decrypt", name="session:inline")]
    d = decide(SESSION_ARN, PolicySet(resource_policy=key_policy(names(ROLE)), session_policies=session))
    assert d.decided_by == "session-policy"
    assert decide(SESSION_ARN, PolicySet(resource_policy=key_policy(names(SESSION_ARN)), session_policies=session)).allowed


def test_explicit_deny_in_session_policy() -> None:
    # EVAL_LOGIC: explicit deny in a session policy
    d = decide(ROLE, PolicySet(identity=[allow()], resource_policy=key_policy(root_statement()),
                               session_policies=[deny("kms:CreateGrant", "session:inline")]), principal_type="role_session")
    assert (d.decided_by, d.layer) == ("explicit-deny", "session-policy")


# --- KMS conditions the diagnosis relies on -----------------------------------------------------------

def test_aws_managed_ebs_key_policy_viaservice_region() -> None:
    # https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
    ebs = key_policy({"Sid": "Allow access through EBS for all principals in the account that are authorized to use EBS",
                      "Effect": "Allow", "Principal": {"AWS": "*"},
                      "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                 "kms:CreateGrant", "kms:DescribeKey"], "Resource": "*",
                      "Condition": {"StringEquals": {"kms:CallerAccount": ACCT,
                                                     "kms:ViaService": "ec2.us-west-2.amazonaws.com"}}})
    assert decide(ALICE, PolicySet(resource_policy=ebs)).allowed
    d = decide(ALICE, PolicySet(resource_policy=ebs), context={**EC2_GRANT, "kms:ViaService": "ec2.eu-west-1.amazonaws.com"})
    assert not d.allowed and d.decided_by == "key-policy"
    assert "kms:ViaService" in "\n".join(d.explanation)
    # kms:CallerAccount is filled in from the caller when the context does not carry it
    assert decide(ALICE, PolicySet(resource_policy=ebs), context={"kms:ViaService": "ec2.us-west-2.amazonaws.com"}).allowed


def test_grant_operations_lacking_decrypt() -> None:
    # https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-operations
    policy = key_policy({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:CreateGrant", "Resource": "*",
                         "Condition": {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt", "ReEncryptTo"]}}})
    d = decide(ROLE, PolicySet(resource_policy=policy), principal_type="role_session")
    assert not d.allowed and "kms:GrantOperations" in "\n".join(d.explanation)


def test_data_perimeter_deny_spares_calls_aws_makes_for_you() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_deny-ip.html: deny outside the
    # listed ranges unless "aws:ViaAWSService" is true (a service calling on the principal's behalf, as EC2 does)
    perimeter = Policy(doc({"Effect": "Deny", "Action": "*", "Resource": "*",
                            "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]},
                                          "Bool": {"aws:ViaAWSService": "false"}}}), "inline:DenyOutsideOffice")
    policies = PolicySet(identity=[allow(), perimeter], resource_policy=key_policy(root_statement()))
    via_ec2 = {**EC2_GRANT, "aws:SourceIp": "ec2.amazonaws.com", "aws:ViaAWSService": "true"}
    assert decide(ALICE, policies, context=via_ec2).allowed
    direct = {"aws:SourceIp": "198.51.100.20", "aws:ViaAWSService": "false"}
    d = decide(ALICE, policies, "kms:Decrypt", context=direct)
    assert (d.decided_by, d.layer) == ("explicit-deny", "identity-policy")
    assert "NotIpAddress aws:SourceIp" in "\n".join(d.explanation)
    assert decide(ALICE, policies, "kms:Decrypt", context={**direct, "aws:SourceIp": "203.0.113.9"}).allowed


def test_deleted_principal_shown_as_unique_id_matches_nobody() -> None:
    # PRINCIPAL: when the role or user a policy names is deleted, the policy shows its unique ID instead of the ARN
    policy = key_policy(root_statement(), names("AROADBQP57FF2AEXAMPLE", sid="Deleted role"))
    d = decide(ROLE, PolicySet(resource_policy=policy), principal_type="role_session")
    assert not d.allowed and d.decided_by == "identity-policy"
    assert "AROADBQP57FF2AEXAMPLE" in "\n".join(d.explanation)
