"""One place that makes a collection call: paginated when botocore can, CLI-shaped, errors become gaps."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from botocore import xform_name

from kit.collect.cli_json import cli_document
from kit.collect.clients import ReadOnlyClients
from kit.collect.gaps import gap_for, gap_from_exception
from kit.collect.memo import ResponseMemo
from kit.errors import KitError
from kit.evidence import Gap

T = TypeVar("T")
R = TypeVar("R")


class Fetcher:
    """Makes calls, keeps the documents and gaps they produce (thread-safe), runs independent calls at once."""

    def __init__(self, clients: ReadOnlyClients, *, workers: int = 4, memo: ResponseMemo | None = None) -> None:
        self.clients = clients
        self.memo = memo  # responses already read in this process (kit.collect.memo), reused when given
        self.region = clients.region
        self.documents: dict[str, Any] = {}
        self.gaps: list[Gap] = []
        self.workers = workers
        self._lock = threading.Lock()

    def fetch(self, document: str | None, service: str, operation: str, params: dict[str, Any] | None = None,
              *, target: str = "", max_items: int | None = None, page_size: int | None = None,
              region: str | None = None, reach: bool = False) -> dict[str, Any] | None:
        """Call `service.operation` (all pages, merged; at most `max_items` items), store it as `document`.

        `reach`: made with the short-timeout client (the collection's first call: does AWS answer at all?).
        Returns the CLI-shaped result, or None after recording a gap. A result cut by `max_items`
        keeps botocore's `NextToken` so the caller can tell (and say so in a gap).
        """
        params = dict(params or {})
        method = _snake(operation)

        def call(params: dict[str, Any]) -> dict[str, Any]:
            # made when a call is sent (not for a reused one); a batch's collections may share it
            client = self.clients(service, region, reach=reach, shared=True)
            with self.clients.recorder.active():  # every page, made here, is recorded in this collection's log
                if client.can_paginate(method):
                    config: dict[str, int] = {}
                    if max_items:
                        config["MaxItems"] = max_items
                    if page_size:
                        config["PageSize"] = page_size
                    kwargs = dict(params, PaginationConfig=config) if config else params
                    return client.get_paginator(method).paginate(**kwargs).build_full_result()
                return getattr(client, method)(**params)

        try:
            if self.memo is None:
                response = call(params)
            else:
                response, read_at = self.memo.call(service, operation, region or self.region, params, max_items,
                                                   page_size, call, scope=self._caller_scope())
                if read_at is not None:  # the evidence still lists where each document came from, and when
                    self.clients.recorder.add(f"{service}:{operation}", params, read_at=read_at)
        except KitError:
            raise  # a ReadOnlyViolation is a bug in the kit, never a gap
        except Exception as exc:  # noqa: BLE001 - every AWS or network error becomes a gap
            self.add_gap(gap_from_exception(f"{service}:{operation}", params, region or self.region, exc,
                                            target=target))
            return None
        result = cli_document(response)
        if document:
            self.store(document, result)
        return result

    def _caller_scope(self) -> str:
        """Who asks, for the memo: the session's profile and access key id (not a secret; never written)."""
        session = self.clients.session
        credentials = session.get_credentials()
        return f"{session.profile_name}|{getattr(credentials, 'access_key', None) or ''}"

    def store(self, name: str, document: Any) -> None:
        """Keep `document` under `name` (a later store of the same name replaces it)."""
        with self._lock:
            self.documents[name] = document

    def add_gap(self, gap: Gap) -> None:
        """Record a gap (each distinct gap once)."""
        with self._lock:
            if gap not in self.gaps:
                self.gaps.append(gap)

    def skip(self, service: str, operation: str, params: dict[str, Any], *, error: str, impact: str,
             region: str | None = None) -> None:
        """Record a gap for a call deliberately not made (e.g. GetKeyPolicy on another account's key)."""
        self.add_gap(gap_for(f"{service}:{operation}", params, region or self.region, error=error, impact=impact))

    def each(self, function: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`function` over `items`, concurrently on a small thread pool, results in order."""
        items = list(items)
        if len(items) <= 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            return list(pool.map(function, items))

    def together(self, *functions: Callable[[], Any]) -> list[Any]:
        """Run independent zero-argument functions concurrently; results in order."""
        return self.each(lambda f: f(), functions)


def _snake(operation: str) -> str:
    return xform_name(operation)
