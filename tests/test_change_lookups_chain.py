"""Which SCP look-ups the look-back for changes makes, from what the account's Organizations chain told.

A member account may not list its parents or SCPs (AWS lets only the management account or a delegated
administrator), so an unread chain must not pass for "only FullAWSAccess": the targets are looked up in the
management account all the same (or a gap names the commands to run there)."""

from __future__ import annotations

from kit.collect.change_lookups import chain_scp_ids, change_lookups

ACCOUNT, OU, ROOT = "123456789012", "ou-ab12-cdef3456", "r-ab12"
REGION = "eu-west-1"


def chain(*policies_by_target: tuple[str, list[str]]) -> dict[str, object]:
    """The organizations.* documents of a chain account -> OU -> root, with the SCPs listed per target."""
    documents: dict[str, object] = {
        f"organizations.list-parents.{ACCOUNT}.json": {"Parents": [{"Id": OU, "Type": "ORGANIZATIONAL_UNIT"}]},
        f"organizations.list-parents.{OU}.json": {"Parents": [{"Id": ROOT, "Type": "ROOT"}]},
    }
    for target, ids in policies_by_target:
        documents[f"organizations.list-policies-for-target.{target}.json"] = {"Policies": [{"Id": i} for i in ids]}
    return documents


def management_lookups(documents: dict[str, object], *, no_organization: bool = False) -> list[str]:
    targets, scp_ids = chain_scp_ids(documents, ACCOUNT, no_organization=no_organization)
    lookups = change_lookups(REGION, [], "role", "deployer", [], ebs_default=False, scp_ids=scp_ids,
                             scp_targets=tuple(targets))
    return [q.qualifier for q in lookups if q.in_management_account]


def test_an_unread_chain_still_looks_up_the_account_in_the_management_account():
    assert chain_scp_ids({}, ACCOUNT) == ([ACCOUNT], None)
    assert management_lookups({}) == [f"change-org-{ACCOUNT}"]


def test_a_chain_read_with_only_full_aws_access_needs_no_scp_look_up():
    full = chain((ACCOUNT, ["p-FullAWSAccess"]), (OU, ["p-FullAWSAccess"]), (ROOT, ["p-FullAWSAccess"]))
    assert chain_scp_ids(full, ACCOUNT)[1] == ("p-FullAWSAccess",)
    assert management_lookups(full) == []


def test_a_chain_partly_listed_is_unknown():
    partial = chain((ACCOUNT, ["p-FullAWSAccess"]))  # the OU's and root's listings were refused
    assert chain_scp_ids(partial, ACCOUNT)[1] is None
    assert management_lookups(partial) == [f"change-org-{ACCOUNT}", f"change-org-{OU}", f"change-org-{ROOT}"]


def test_an_account_in_no_organization_has_no_scp_look_up():
    assert management_lookups({}, no_organization=True) == []


def test_a_custom_scp_is_looked_up_with_every_target_of_the_chain():
    custom = chain((ACCOUNT, ["p-FullAWSAccess"]), (OU, ["p-deny1234"]), (ROOT, ["p-FullAWSAccess"]))
    assert management_lookups(custom) == ["change-scp-p-FullAWSAccess", "change-scp-p-deny1234",
                                          f"change-org-{ACCOUNT}", f"change-org-{OU}", f"change-org-{ROOT}"]


def _lookup_file(*records: dict[str, object]) -> dict[str, object]:
    """A lookup-events document as LookupEvents answers (each record as its CloudTrailEvent JSON string)."""
    import json

    return {"Events": [{"EventId": r["eventID"], "EventName": r["eventName"], "CloudTrailEvent": json.dumps(r)}
                       for r in records]}


def _move(account: str, source: str, when: str, *, error: str | None = None, event_source: str = "organizations"
          ) -> dict[str, object]:
    record: dict[str, object] = {
        "eventID": f"move-{account}-{source}-{when}", "eventName": "MoveAccount", "eventTime": when,
        "eventSource": f"{event_source}.amazonaws.com", "awsRegion": "us-east-1",
        "requestParameters": {"accountId": account, "sourceParentId": source, "destinationParentId": OU},
        "responseElements": None}
    if error:
        record["errorCode"] = error
    return record


def test_the_parents_an_account_was_moved_from_newest_first():
    from kit.collect.change_lookups import move_sources

    older, newer = "ou-ab12-aaaa1111", "ou-ab12-bbbb2222"
    documents = {"cloudtrail.lookup-events.change-org-123456789012.json": _lookup_file(
        _move(ACCOUNT, older, "2026-11-20T10:00:00Z"), _move(ACCOUNT, newer, "2026-11-24T10:00:00Z"),
        _move(ACCOUNT, "ou-ab12-cccc3333", "2026-11-25T10:00:00Z", error="AccessDeniedException"),  # changed nothing
        _move("444455556666", "ou-ab12-dddd4444", "2026-11-25T10:00:00Z"),  # another account
        _move(ACCOUNT, "ou-ab12-eeee5555", "2026-11-25T10:00:00Z", event_source="iam"),  # not Organizations'
        _move(ACCOUNT, "ou-x; rm -rf /", "2026-11-26T10:00:00Z"))}  # not a parent id: never a command argument
    assert move_sources(documents, ACCOUNT) == [newer, older]
    assert move_sources(documents, None) == [] and move_sources({}, ACCOUNT) == []
    # log files and Athena rows hold the same records (Athena's requestParameters as a JSON string)
    import json

    row = dict(_move(ACCOUNT, older, "2026-11-20T10:00:00Z"))
    row["requestParameters"] = json.dumps(row["requestParameters"])
    assert move_sources({"cloudtrail-athena/q-1.json": {"Records": [row]}}, ACCOUNT) == [older]


def test_the_chains_above_the_parents_left_as_far_as_the_files_go():
    from kit.collect.change_lookups import source_chains

    left = "ou-ab12-aaaa1111"
    documents: dict[str, object] = {"cloudtrail.lookup-events.change-org-123456789012.json": _lookup_file(
        _move(ACCOUNT, left, "2026-11-20T10:00:00Z"))}
    assert source_chains(documents, ACCOUNT) == ([left], [])  # only the parent is known yet: list it
    documents[f"organizations.list-parents.{left}.json"] = {"Parents": [{"Id": ROOT, "Type": "ROOT"}]}
    documents[f"organizations.list-policies-for-target.{left}.json"] = {"Policies": [{"Id": "p-left0001"}]}
    documents[f"organizations.list-policies-for-target.{ROOT}.json"] = {"Policies": [{"Id": "p-FullAWSAccess"}]}
    assert source_chains(documents, ACCOUNT) == ([left, ROOT], ["p-left0001", "p-FullAWSAccess"])


def test_ids_read_from_list_parents_that_are_no_parent_ids_end_the_chain():
    """Parent ids go into file names and commands: one that is not an OU or root id (AWS's patterns) ends the
    chain there, for the account's own chain as for the chains it left."""
    from kit.collect.change_lookups import organization_chain, source_chains

    bad = {f"organizations.list-parents.{ACCOUNT}.json": {"Parents": [{"Id": "../../etc/passwd", "Type": "ROOT"}]}}
    assert organization_chain(bad, ACCOUNT) == ([ACCOUNT], [])
    hop = chain((ACCOUNT, ["p-FullAWSAccess"]))
    hop[f"organizations.list-parents.{OU}.json"] = {"Parents": [{"Id": "ou-x; rm -rf /", "Type": "ROOT"}]}
    assert organization_chain(hop, ACCOUNT)[0] == [ACCOUNT, OU]
    assert organization_chain(chain(), "not-an-id") == ([], [])
    left = "ou-ab12-aaaa1111"
    moved: dict[str, object] = {
        "cloudtrail.lookup-events.change-org-123456789012.json": _lookup_file(_move(ACCOUNT, left, "2026-11-20T10:00:00Z")),
        f"organizations.list-parents.{left}.json": {"Parents": [{"Id": "r-ab12/../x", "Type": "ROOT"}]}}
    assert source_chains(moved, ACCOUNT) == ([left], [])


def test_the_chain_left_is_looked_up_where_it_is_not_the_chain_now():
    """For a move's rollback: the targets of the chain the account left that are not above it now, and the SCPs
    listed only there (not AWS's FullAWSAccess, which never changes), in the management account."""
    from kit.collect.change_lookups import moved_chain_lookups

    left = "ou-ab12-aaaa1111"
    documents = chain((ACCOUNT, ["p-FullAWSAccess"]), (OU, ["p-FullAWSAccess", "p-here0001"]),
                      (ROOT, ["p-FullAWSAccess"]), (left, ["p-FullAWSAccess", "p-here0001", "p-left0001"]))
    documents["cloudtrail.lookup-events.change-org-123456789012.json"] = _lookup_file(
        _move(ACCOUNT, left, "2026-11-20T10:00:00Z"))
    documents[f"organizations.list-parents.{left}.json"] = {"Parents": [{"Id": ROOT, "Type": "ROOT"}]}
    targets, _ = chain_scp_ids(documents, ACCOUNT)
    lookups = moved_chain_lookups(documents, ACCOUNT, targets)
    assert [(q.qualifier, q.value, q.in_management_account) for q in lookups] == [
        ("change-scp-p-left0001", "p-left0001", True), (f"change-org-{left}", left, True)]
    assert moved_chain_lookups(chain((ACCOUNT, ["p-FullAWSAccess"])), ACCOUNT, [ACCOUNT, OU, ROOT]) == []
