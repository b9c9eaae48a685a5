"""kit.frames: evidence of any source as typed pandas DataFrames (columns documented in schemas.json).

    from kit.frames import build_frames, Frames, policy_documents_for, key_policy_document
"""

from __future__ import annotations

from kit.frames.build import Frames, build_frames
from kit.frames.policies import PrincipalPolicies, key_policy_document, policy_documents_for, principal_of
from kit.frames.schemas import FrameSchemaError, load_schemas

__all__ = ["FrameSchemaError", "Frames", "PrincipalPolicies", "build_frames", "key_policy_document", "load_schemas",
           "policy_documents_for", "principal_of"]
