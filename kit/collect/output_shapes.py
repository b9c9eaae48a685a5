"""Is a document what its AWS call returns? Checked against botocore's own output shapes (the service models
boto3 and the AWS CLI are built from), so a file whose nested fields have the wrong types (a tag list that is
a string, a key id that is a number) is refused by name instead of crashing the analysis later."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # botocore is imported only when a document is checked (pure readers stay light)
    from botocore.model import ServiceModel, Shape

SERVICES = ("ec2", "kms", "iam", "cloudtrail", "sts", "organizations", "autoscaling")  # calls the kit reads


@cache
def _service_model(service: str) -> ServiceModel:
    from kit.collect.model_data import botocore_session

    return botocore_session().get_service_model(service)


def output_shape_problem(call: str, document: Any) -> str | None:
    """Why `document` is not the output of `call` ("service:Operation") in the types botocore's model gives, or
    None when it is (or the call has no model the kit checks against). Unknown members are allowed."""
    from botocore.exceptions import UnknownServiceError
    from botocore.model import OperationNotFoundError

    service, _, operation = call.partition(":")
    if service not in SERVICES:
        return None
    try:
        shape = _service_model(service).operation_model(operation).output_shape
    except (UnknownServiceError, OperationNotFoundError):
        return None
    return None if shape is None else _problem(shape, document, "")


_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,), "blob": (str,), "boolean": (bool,), "integer": (int,), "long": (int,),
    "float": (int, float), "double": (int, float), "timestamp": (str, int, float),  # CLI v1 prints epochs too
}
_INTEGER_BITS = {"integer": 32, "long": 64}


def _problem(shape: Shape, value: Any, where: str) -> str | None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return f"{where or 'the document'} should be an object, got {_type_name(value)}"
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                found = _problem(member, value[name], f"{where}.{name}" if where else name)
                if found:
                    return found
        return None
    if kind == "list":
        if not isinstance(value, list):
            return f"{where or 'the document'} should be a list, got {_type_name(value)}"
        for i, item in enumerate(value):
            found = _problem(shape.member, item, f"{where}[{i}]")
            if found:
                return found
        return None
    if kind == "map":
        if not isinstance(value, dict):
            return f"{where or 'the document'} should be an object, got {_type_name(value)}"
        for key, item in value.items():
            found = _problem(shape.value, item, f"{where}.{key}")
            if found:
                return found
        return None
    allowed = _SCALARS.get(kind)
    if allowed is None:
        return None
    if shape.name == "policyDocumentType" and isinstance(value, dict):
        return None  # IAM policy documents: botocore (json_decode_policies) and the CLI print them decoded
    if isinstance(value, bool) and bool not in allowed:
        return f"{where} should be a {kind}, got a boolean"
    if not isinstance(value, allowed):
        return f"{where} should be a {kind}, got {_type_name(value)}"
    bits = _INTEGER_BITS.get(kind)
    if bits and isinstance(value, int) and not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        return f"{where} should be a {bits}-bit {kind}, got {value}"
    return None


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
