"""Parameter validation: the notebook's first call stops on anything unknown or invalid, naming it."""

from __future__ import annotations

import pytest

from kit.errors import BadInput
from kit.params import DEFAULTS, PARAMETERS, from_namespace, validate


def test_defaults_validate_and_round_trip() -> None:
    params = validate({})
    assert params.to_dict() == DEFAULTS
    assert validate(params.to_dict()) == params


def test_typical_headless_parameters(tmp_path) -> None:
    params = validate({"instance_id": "i-0123456789abcdef0", "region": "eu-west-1", "source": f"cli:{tmp_path}",
                       "window_before_minutes": "120", "interactive": "false", "redact": True},
                      require_target=True)
    assert params.window_before_minutes == 120 and params.interactive is False and params.redact is True
    assert params.source_kind == "cli"


@pytest.mark.parametrize(("values", "field"), [
    ({"instance": "i-0123456789abcdef0"}, "instance"),
    ({"instance_id": "0123456789abcdef0"}, "instance_id"),
    ({"instance_id": "i-XYZ"}, "instance_id"),
    ({"region": "Europe"}, "region"),
    ({"source": "s3:bucket"}, "source"),
    ({"source": "bundle:/no/such/folder"}, "source"),
    ({"source": "cli:"}, "source"),
    ({"window_before_minutes": -5}, "window_before_minutes"),
    ({"window_after_minutes": "soon"}, "window_after_minutes"),
    ({"window_after_minutes": 10**9}, "window_after_minutes"),
    ({"window_after_minutes": True}, "window_after_minutes"),
    ({"interactive": "maybe"}, "interactive"),
    ({"redact": 1}, "redact"),
    ({"role_arn": "arn:aws:iam::123:role/x"}, "role_arn"),
    ({"profile": "has space"}, "profile"),
    ({"cloudtrail_source": "/no/such/logs"}, "cloudtrail_source"),
    ({"scenario": "Not A Name"}, "scenario"),
    ({"profile": "AKIAIOSFODNN7EXAMPLE"}, "profile"),
    ({"scenario": "seed", "source": "cli:/tmp"}, "source"),
])
def test_bad_parameters_name_the_field(values: dict, field: str) -> None:
    with pytest.raises(BadInput) as caught:
        validate(values)
    assert caught.value.field == field
    assert caught.value.expected
    assert field in str(caught.value)


def test_headless_run_needs_a_target() -> None:
    with pytest.raises(BadInput) as caught:
        validate({"region": "eu-west-1"}, require_target=True)
    assert caught.value.field == "instance_id"
    assert validate({"scenario": "seed"}, require_target=True).scenario == "seed"


def test_notebook_globals_flag_unknown_names_and_ignore_kernel_objects() -> None:
    namespace = {name: DEFAULTS[name] for name in PARAMETERS}
    namespace.update({"In": [], "Out": {}, "get_ipython": print, "Investigation": object, "_": "",
                      "__name__": "__main__", "json": __import__("json")})
    assert from_namespace(namespace).source == "live"
    namespace["instanceid"] = "i-0123456789abcdef0"  # a typo papermill would inject as-is
    with pytest.raises(BadInput) as caught:
        from_namespace(namespace)
    assert caught.value.field == "instanceid"
    assert "instance_id" in caught.value.expected
