"""Property-based tests (hypothesis) for action, resource and ARN matching and a few evaluation laws."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kit.policy import Policy, PolicySet, Request, evaluate
from kit.policy.matching import action_matches, arn_matches, glob_match

PLAIN = st.characters(blacklist_characters="*?\ue000\ue001", blacklist_categories=("Cs",))
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = LETTERS + "0123456789"
SEGMENT = st.text(st.sampled_from(ALNUM + "-_."), max_size=12)
RESOURCE_PART = st.text(st.sampled_from(ALNUM + "-_./:"), min_size=1, max_size=30)
ACTION_NAME = st.text(st.sampled_from(LETTERS), min_size=1, max_size=20)
SERVICE = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-"), min_size=2, max_size=10)


@st.composite
def string_and_pattern(draw: st.DrawFn, alphabet: st.SearchStrategy[str] = PLAIN) -> tuple[str, str]:
    """A string, and a pattern built from it by replacing characters with ? and runs with *."""
    text = draw(st.text(alphabet, max_size=30))
    pattern, i = [], 0
    while i < len(text):
        choice = draw(st.sampled_from(["keep", "keep", "?", "*"]))
        if choice == "keep":
            pattern.append(text[i])
            i += 1
        elif choice == "?":
            pattern.append("?")
            i += 1
        else:
            run = draw(st.integers(0, len(text) - i))
            pattern.append("*")
            i += run
    if draw(st.booleans()):
        pattern.append("*")  # a trailing * matches the empty rest
    return text, "".join(pattern)


@st.composite
def arns(draw: st.DrawFn) -> str:
    parts = [draw(SEGMENT) for _ in range(4)]
    return ":".join(["arn", parts[0] or "aws", parts[1] or "svc", parts[2], parts[3], draw(RESOURCE_PART)])


@given(string_and_pattern())
@settings(deadline=None)  # no timed assertions: speed belongs in bench/
def test_wildcard_pattern_built_from_a_string_matches_it(pair: tuple[str, str]) -> None:
    text, pattern = pair
    assert glob_match(pattern, text)


@given(st.text(PLAIN, max_size=30))
@settings(deadline=None)  # no timed assertions: speed belongs in bench/
def test_a_string_without_wildcards_matches_only_itself(text: str) -> None:
    assert glob_match(text, text)
    assert not glob_match(text, text + "x")
    assert not glob_match(text + "?", text)


@given(string_and_pattern(st.sampled_from(ALNUM)), SERVICE)
@settings(deadline=None)  # no timed assertions: speed belongs in bench/
def test_actions_match_case_insensitively(pair: tuple[str, str], service: str) -> None:
    name, pattern = pair
    action = f"{service}:{name}"
    full = f"{service}:{pattern}"
    assert action_matches(full, action)
    assert action_matches(full.upper(), action.lower())
    assert action_matches(full.swapcase(), action)
    assert action_matches("*", action)
    assert action_matches(f"{service.upper()}:*", action)


@given(SERVICE, ACTION_NAME, ACTION_NAME)
@settings(deadline=None)  # no timed assertions: speed belongs in bench/
def test_action_of_another_service_never_matches(service: str, name: str, other: str) -> None:
    assert not action_matches(f"{service}x:{name}", f"{service}:{name}")
    assert action_matches(f"{service}:{name}", f"{service}:{name}") is True
    if name.lower() != other.lower():
        assert not action_matches(f"{service}:{name}", f"{service}:{other}")


@given(arns(), st.lists(st.booleans(), min_size=6, max_size=6))
@settings(deadline=None)  # no timed assertions: speed belongs in bench/
def test_arn_segments_replaced_by_star_still_match(arn: str, replace: list[bool]) -> None:
    parts = arn.split(":", 5)
    pattern = ":".join("*" if r and i > 0 else p for i, (p, r) in enumerate(zip(parts, replace)))
    assert arn_matches(pattern, arn)
    assert arn_matches("*", arn)


@given(arns(), arns())
@settings(deadline=None)  # no timed assertions: speed belongs in bench/
def test_arnlike_is_segment_by_segment(pattern_arn: str, value: str) -> None:
    pattern_parts, value_parts = pattern_arn.split(":", 5), value.split(":", 5)
    expected = all(glob_match(p, v) for p, v in zip(pattern_parts, value_parts))
    assert arn_matches(pattern_arn, value) == expected


@given(string_and_pattern(st.sampled_from(ALNUM + ":/-")), arns())
@settings(deadline=None)  # no timed assertions: speed belongs in bench/
def test_arnlike_match_implies_stringlike_match(pair: tuple[str, str], arn: str) -> None:
    _, pattern = pair
    candidate = "arn:" + pattern
    if arn_matches(candidate, arn):
        assert glob_match(candidate, arn)


@given(SEGMENT.filter(bool), SEGMENT.filter(bool), SEGMENT.filter(bool))
@settings(deadline=None)  # no timed assertions: speed belongs in bench/
def test_star_in_a_segment_does_not_cross_colons(region: str, extra: str, account: str) -> None:
    # the IAM User Guide example: ArnLike "arn:aws:someservice:*:111122223333:finance/*" fails on a value whose
    # region segment would have to swallow "us-east-2:999999999999:store/abc:"
    pattern = f"arn:aws:someservice:*:{account}:finance/*"
    value = f"arn:aws:someservice:{region}:{extra}:store/abc:{account}:finance/doc.txt"
    if extra != account:
        assert not arn_matches(pattern, value)
    assert glob_match(pattern, value)


@given(string_and_pattern(st.sampled_from(LETTERS)), st.booleans())
@settings(max_examples=60, deadline=None)
def test_explicit_deny_wins_over_any_allow(pair: tuple[str, str], deny_in_key_policy: bool) -> None:
    name, pattern = pair
    if not name:
        return
    action = f"kms:{name}"
    key = "arn:aws:kms:us-east-1:111122223333:key/k"
    user = "arn:aws:iam::111122223333:user/Alice"
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    key_statements = [{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"}]
    deny = {"Effect": "Deny", "Action": f"kms:{pattern}", "Resource": "*"}
    identity = [Policy(allow_all, "inline:all")]
    if deny_in_key_policy:
        key_statements.append({**deny, "Principal": "*"})
    else:
        identity.append(Policy({"Version": "2012-10-17", "Statement": [deny]}, "inline:deny"))
    policies = PolicySet(identity=identity, resource_policy=Policy({"Version": "2012-10-17", "Statement": key_statements},
                                                                   "key-policy"))
    decision = evaluate(Request(user, action, key), policies)
    assert decision.decided_by == "explicit-deny"
    assert decision.layer == ("key-policy" if deny_in_key_policy else "identity-policy")


@given(st.lists(st.booleans(), min_size=28, max_size=28))
@settings(max_examples=40, deadline=None)
def test_condition_key_case_does_not_matter(upper: list[bool]) -> None:
    key = "kms:ViaService"
    policy_key = "".join(c.upper() if u else c.lower() for c, u in zip(key, upper[:14]))
    context_key = "".join(c.upper() if u else c.lower() for c, u in zip(key, upper[14:]))
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                 "Condition": {"StringEquals": {policy_key: "ec2.us-east-1.amazonaws.com"}}}
    policies = PolicySet(identity=[Policy({"Version": "2012-10-17", "Statement": [statement]}, "inline:p")])
    request = Request("arn:aws:iam::111122223333:user/A", "s3:GetObject", "arn:aws:s3:::b/k",
                      {context_key: "ec2.us-east-1.amazonaws.com"})
    assert evaluate(request, policies).allowed
    wrong = Request("arn:aws:iam::111122223333:user/A", "s3:GetObject", "arn:aws:s3:::b/k",
                    {context_key: "EC2.us-east-1.amazonaws.com"})
    assert not evaluate(wrong, policies).allowed
