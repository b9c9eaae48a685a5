"""CloudTrail from log archives instead of LookupEvents: a local folder or s3://bucket/prefix.

Files are chosen by their names before any is read: the trail's layout (`AWSLogs/<account>/CloudTrail/<region>/
YYYY/MM/DD/`, and the organisation trail's `AWSLogs/o-xxxx/<account>/CloudTrail/...`) names the account, Region
and day, and CloudTrail's file name (`<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>.json.gz`) its delivery
time; a folder outside the selection is not even listed. The chosen files are read up to a budget of bytes and
seconds (kit.collect.limits); what the budget leaves out becomes a gap that counts the files and bytes skipped.
Files are parsed (gunzip, SHA-256, a byte-level test, orjson) in worker processes when there are many
(kit.collect.log_parse). When the source holds the trail's digest files, each log file read is checked against
them (kit.collect.log_integrity). An investigation stores each file as `cloudtrail-logs/<path relative to the
source>`.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from kit.collect.change_filter import ChangeFilter, keep_change
from kit.collect.cloudtrail_window import TimeRange
from kit.collect.fetcher import Fetcher
from kit.collect.gaps import gap_from_exception
from kit.collect.limits import ARCHIVE_MAX_BYTES, ARCHIVE_MAX_SECONDS, EvidenceTooLarge
from kit.collect.log_integrity import DIGEST_DOCUMENT, IntegrityReport, check_integrity
from kit.collect.log_parse import Needles, ParsedFile, ParseJob, RecordFilter, load_document, parse_digest, parse_job
from kit.collect.redact import redact_log
from kit.errors import BadInput
from kit.evidence import Gap

_FILE_NAME = re.compile(r"^(\d{12})_CloudTrail_([\w-]+)_(\d{8}T\d{4}Z)_[^/]+\.json(\.gz)?$")
_DIGEST_NAME = re.compile(r"^(\d{12})_CloudTrail-Digest_([a-z0-9-]+)_.+_(\d{8}T\d{6}Z)(_backfill)?\.json(\.gz)?$")
_DATE_PATH = re.compile(r"/(?:(o-[a-z0-9]{10,32})/)?(?:(\d{12})/)?(CloudTrail|CloudTrail-Digest)/([\w-]+)/"
                        r"(\d{4})/(\d{2})/(\d{2})/")
DELIVERY_SLACK = timedelta(minutes=30)  # events reach a file up to ~15 minutes after they happen
DIGEST_SPAN = timedelta(hours=1, minutes=30)  # a digest lists the files delivered in the hour before it
PARALLEL_MIN_FILES = 8       # fewer files are parsed in this process (a worker pool costs ~0.1 s to start)
MAX_PARSE_WORKERS = 4
MAX_DAYS = 31


@dataclass(frozen=True)
class LogSelection:
    """Which log files to read: accounts and Regions (None: all), and the time window of the events."""

    window: TimeRange
    accounts: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    pairs: frozenset[tuple[str | None, str]] | None = None  # (account or None: any, Region): only these together
    max_days: int = MAX_DAYS

    def days(self, before: timedelta = timedelta(0)) -> list[date]:
        """The day folders that can hold the window's files (at most `max_days`)."""
        days: list[date] = []
        day = (self.window.start - before).date()
        while day <= (self.window.end + DIGEST_SPAN).date() and len(days) < self.max_days:
            days.append(day)
            day += timedelta(days=1)
        return days

    def wants(self, account: str | None, region: str) -> bool:
        """Whether files of `account` (None: not known from the path) and `region` can hold the selection."""
        if not _wanted(self.regions, region) or (account is not None and not _wanted(self.accounts, account)):
            return False
        return self.pairs is None or any(r == region and (a is None or account is None or a == account)
                                         for a, r in self.pairs)

    def regions_of(self, account: str) -> list[str] | None:
        """The Regions to list under `account` (None: every Region the source holds)."""
        if self.pairs is not None:
            return sorted({r for a, r in self.pairs if a is None or a == account})
        return sorted(self.regions) if self.regions is not None else None


@dataclass(frozen=True)
class Budget:
    """How much of an archive one read may take: compressed bytes read and seconds spent."""

    max_bytes: int = ARCHIVE_MAX_BYTES
    max_seconds: float = ARCHIVE_MAX_SECONDS


@dataclass(frozen=True)
class ListedFile:
    """A log or digest file found in the source: its name relative to the source, where to read it, its size."""

    relative: str
    location: str  # a local path, or the S3 key
    size: int
    digest: bool = False


@dataclass
class ArchiveRead:
    """What one read of an archive gave: kept records per file, the files skipped, integrity, gaps."""

    files: list[ParsedFile] = field(default_factory=list)
    listed: int = 0                 # log files chosen by name
    opened: list[str] = field(default_factory=list)  # relative names of the files read
    skipped_files: int = 0          # left out by the budget
    skipped_bytes: int = 0
    integrity: IntegrityReport | None = None
    gaps: list[Gap] = field(default_factory=list)

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every kept record, file by file in delivery order."""
        return [r for f in self.files for r in f.records or []]


def collect_log_archive(fetch: Fetcher, source: str, account_id: str | None, region: str,
                        window: TimeRange) -> list[dict[str, Any]]:
    """Read the window's log files from `source` into `cloudtrail-logs/...`; returns all their records.

    Every record of every chosen file is kept (no byte test): the events frame holds the whole window."""
    selection = LogSelection(window, frozenset({account_id}) if account_id else None, frozenset({region}))
    result = read_archive(fetch, source, selection)
    for gap in result.gaps:
        fetch.add_gap(gap)
    records: list[dict[str, Any]] = []
    for parsed in result.files:
        if parsed.records is None:
            continue
        document = {"Records": parsed.records}
        redact_log(document)
        fetch.store(f"cloudtrail-logs/{parsed.relative}", document)
        records.extend(parsed.records)
    if result.integrity is not None:
        fetch.store(DIGEST_DOCUMENT, result.integrity.to_dict())
    return records


CHANGES_DOCUMENT = "cloudtrail-logs/change-lookback.json.gz"


def collect_archive_changes(fetch: Fetcher, source: str, change: ChangeFilter, *,
                            budget: Budget | None = None) -> int:
    """The change look-back through a log archive: the files of the look-back's accounts, Regions and days,
    newest first within their own budget (kit.collect.limits), each tested for the filter's values before
    it is parsed; the kept events stored as `cloudtrail-logs/change-lookback.json.gz` with what was read.
    Returns the number of events kept. Digest files are not checked for the look-back (the window's are)."""
    start = datetime.strptime(change.start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    end = datetime.strptime(change.end, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    accounts, regions = change.accounts(), change.regions()
    days = (end + DIGEST_SPAN).date().toordinal() - start.date().toordinal() + 1
    selection = LogSelection(TimeRange(start, end), frozenset(accounts) if accounts is not None else None,
                             frozenset(regions), pairs=change.pairs(), max_days=max(days, 1))
    result = read_archive(fetch, source, selection, needles=change.needles(), keep=partial(keep_change, change),
                          budget=budget or Budget(), newest_first=True, integrity=False)
    for gap in result.gaps:
        fetch.add_gap(Gap(gap.call, gap.error, f"The look-back for changes (contracts.md 3a): {gap.impact}",
                          gap.next_step))
    records = sorted(result.records, key=lambda r: (str(r.get("eventTime")), str(r.get("eventID"))))
    document = {"Purpose": f"the look-back for changes (contracts.md 3a), {change.start} to "
                                              f"{change.end}",
                "Filter": change.to_dict(), "FilesChosen": result.listed, "FilesRead": len(result.opened),
                "FilesSkipped": result.skipped_files, "BytesSkipped": result.skipped_bytes,
                "FilesWithChanges": sorted(f.relative for f in result.files if f.records), "Records": records}
    redact_log(document)
    fetch.store(CHANGES_DOCUMENT, document)
    return len(records)


def read_archive(fetch: Fetcher, source: str, selection: LogSelection, *, needles: Needles | None = None,
                 keep: RecordFilter | None = None, budget: Budget | None = None,
                 workers: int | None = None, newest_first: bool = False, integrity: bool = True) -> ArchiveRead:
    """Read the log files of `selection` from a folder or s3://bucket/prefix, within `budget`.

    needles/keep: the byte test and the record filter (kit.collect.log_parse); None keeps every record.
    newest_first: read the latest deliveries first (what a budget leaves out is then the earliest);
    integrity: False skips the digest files (neither listed nor checked).
    Problems (a file over the per-file budget, an unreadable object) are gaps in the result, never raises
    except BadInput for a source that is neither."""
    budget = budget or Budget()
    started = time.monotonic()
    if source.startswith("s3://"):
        reader: _Source = _S3Source(fetch, source)
    else:
        root = Path(source).expanduser()
        if not root.is_dir():
            raise BadInput("cloudtrail_source", "lookup, a folder of CloudTrail log files, or s3://bucket/prefix",
                           source)
        reader = _LocalSource(root)
    listed = reader.listing(selection, digests=integrity)
    logs = sorted((f for f in listed if not f.digest), key=lambda f: (_delivery_key(f.relative), f.relative),
                  reverse=newest_first)
    digests = [f for f in listed if f.digest and integrity]
    result = ArchiveRead(listed=len(logs))
    chosen: list[ListedFile] = []
    total = 0
    for index, item in enumerate(logs):
        if total + item.size > budget.max_bytes:
            rest = logs[index:]
            result.skipped_files, result.skipped_bytes = len(rest), sum(f.size for f in rest)
            break
        chosen.append(item)
        total += item.size
    jobs = reader.jobs(chosen, needles, keep, bool(digests))
    for parsed in _parse_all(jobs, len(chosen), total, workers, started, budget):
        if parsed is None:  # the time budget ran out: the rest is skipped
            continue
        result.opened.append(parsed.relative)
        if parsed.too_large:
            result.gaps.append(too_large_gap(parsed.relative, EvidenceTooLarge(parsed.too_large)))
        elif parsed.broken:
            result.gaps.append(Gap("cloudtrail:log-file", "UnreadableLogFile",
                                   f"{parsed.relative} could not be read ({parsed.error}); its events are missing "
                                   "from the CloudTrail evidence.", None))
        result.files.append(parsed)
    not_read = len(chosen) - len(result.opened)
    if not_read:
        rest = chosen[len(result.opened):]
        result.skipped_files += not_read
        result.skipped_bytes += sum(f.size for f in rest)
    if result.skipped_files:
        result.gaps.append(budget_gap(source, result, budget, "earliest" if newest_first else "latest"))
    result.gaps.extend(reader.gaps)
    if digests:
        digest_files = [parse_digest(job) for job in reader.jobs(digests, None, None, True)]
        result.integrity = check_integrity(result.files, digest_files, reader.signatures, selection_filter(selection),
                                            {f.relative.rsplit("/", 1)[-1] for f in logs})
        result.gaps.extend(result.integrity.gaps())
    return result


def too_large_gap(relative: str, err: EvidenceTooLarge) -> Gap:
    """The gap for a log file over the per-file budget: its events are missing, and the analysis says so."""
    return Gap("cloudtrail:log-file", "EvidenceTooLarge",
               f"{relative} was not read ({err}); its events are missing from the CloudTrail evidence.", None)


def budget_gap(source: str, result: ArchiveRead, budget: Budget, which: str = "latest") -> Gap:
    """The gap for the files a budget left out: how many, how many bytes, and that their events are missing."""
    return Gap("cloudtrail:log-files", "BudgetExceeded",
               f"{result.skipped_files} of the {result.listed} log files chosen in {source} "
               f"({result.skipped_bytes} bytes) were not read: the read stopped at the kit's budget of "
               f"{budget.max_bytes} bytes and {budget.max_seconds:g} s (kit.collect.limits). Their events (the "
               f"{which} deliveries of the window) are missing from the CloudTrail evidence; narrow the window "
               "or read them with a larger budget.", None)


def parse_log(name: str, data: bytes) -> dict[str, Any] | None:
    """`{"Records": [...]}` from a log file's bytes (gzipped or not); None when it is not a log file."""
    from kit.collect.limits import gunzip_bounded

    try:
        if data[:2] == b"\x1f\x8b":
            data = gunzip_bounded(data)
    except EvidenceTooLarge:
        raise
    except (OSError, EOFError):
        return None
    return load_document(data)


def wanted(relative: str, region: str, window: TimeRange) -> bool:
    """Whether a log file at `relative` can hold events of `window` in `region`."""
    return selected(relative, LogSelection(window, None, frozenset({region})))


def selected(relative: str, selection: LogSelection) -> bool:
    """Whether the log file at `relative` can hold events of the selection, judged by its path alone."""
    path = "/" + relative.replace("\\", "/")
    name = path.rsplit("/", 1)[-1]
    if _DIGEST_NAME.match(name):
        return False
    window = selection.window
    folder = _DATE_PATH.search(path)
    if folder:
        if folder.group(3) != "CloudTrail" or not selection.wants(folder.group(2) or None, folder.group(4)):
            return False
        day = date(int(folder.group(5)), int(folder.group(6)), int(folder.group(7)))
        if not window.start.date() <= day <= (window.end + DELIVERY_SLACK).date():
            return False
    match = _FILE_NAME.match(name)
    if match:
        if not selection.wants(match.group(1), match.group(2)):
            return False
        delivered = datetime.strptime(match.group(3), "%Y%m%dT%H%MZ").replace(tzinfo=timezone.utc)
        return window.start <= delivered <= window.end + DELIVERY_SLACK
    return bool(folder) or path.endswith((".json", ".json.gz"))


def selection_filter(selection: LogSelection) -> Any:
    """`relative -> bool`: whether a log file a digest lists belongs to the selection (to report it missing)."""
    return lambda relative: selected(relative, selection)


def digest_selected(relative: str, selection: LogSelection) -> bool:
    """Whether a digest file can list log files of the selection (or be the previous digest of one that does)."""
    path = "/" + relative.replace("\\", "/")
    match = _DIGEST_NAME.match(path.rsplit("/", 1)[-1])
    if not match:
        return False
    if not selection.wants(match.group(1), match.group(2)):
        return False
    end = datetime.strptime(match.group(3), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    return selection.window.start - DIGEST_SPAN <= end <= selection.window.end + DELIVERY_SLACK + DIGEST_SPAN


def _wanted(allowed: frozenset[str] | None, value: str) -> bool:
    return allowed is None or value in allowed


def _delivery_key(relative: str) -> str:
    match = _FILE_NAME.match(relative.replace("\\", "/").rsplit("/", 1)[-1])
    return match.group(3) if match else ""


# ---- where the files are ------------------------------------------------------------------------------------

class _Source:
    """A folder or an S3 prefix: lists the selection's files, says how a worker reads one."""

    gaps: list[Gap]
    signatures: dict[str, str]  # digest file name -> its x-amz-meta-signature (S3 only)

    def listing(self, selection: LogSelection, digests: bool = True) -> list[ListedFile]:
        raise NotImplementedError

    def jobs(self, items: list[ListedFile], needles: Needles | None, keep: RecordFilter | None,
             digest: bool) -> Iterator[ParseJob]:
        """A parse job per file, in order (digest: hash each file's content for the digest check)."""
        raise NotImplementedError


class _LocalSource(_Source):
    """A folder: walked without following links, pruning account, Region and day folders outside the selection."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.gaps = []
        self.signatures = {}

    def listing(self, selection: LogSelection, digests: bool = True) -> list[ListedFile]:
        out: list[ListedFile] = []
        for folder, directories, files in os.walk(self.root, followlinks=False):
            base = Path(folder)
            relative_folder = base.relative_to(self.root).as_posix()
            directories[:] = sorted(d for d in directories if not (base / d).is_symlink()
                                    and _keep_folder(f"{relative_folder}/{d}", selection))
            for name in sorted(files):
                path = base / name
                relative = path.relative_to(self.root).as_posix()
                if path.is_symlink() or not name.endswith((".json", ".json.gz")):
                    continue
                if selected(relative, selection):
                    out.append(ListedFile(relative, str(path), path.stat().st_size))
                elif digests and digest_selected(relative, selection):
                    out.append(ListedFile(relative, str(path), path.stat().st_size, digest=True))
        return out

    def jobs(self, items: list[ListedFile], needles: Needles | None, keep: RecordFilter | None,
             digest: bool) -> Iterator[ParseJob]:
        for item in items:
            yield ParseJob(item.relative, path=item.location, needles=needles, keep=keep, digest=digest)


_FOLDER = re.compile(r"(?:^|/)AWSLogs/(?:o-[a-z0-9]{10,32}/)?(?P<account>\d{12})(?:/(?P<kind>[^/]+)"
                     r"(?:/(?P<region>[^/]+)(?:/(?P<year>\d{4})(?:/(?P<month>\d{2})(?:/(?P<day>\d{2}))?)?)?)?)?$")


def _keep_folder(relative: str, selection: LogSelection) -> bool:
    """Whether a folder of the trail's layout can hold files of the selection (other folders are walked)."""
    match = _FOLDER.search(relative.lstrip("./"))
    if not match:
        return True
    if not _wanted(selection.accounts, match["account"]):
        return False
    if match["kind"] is not None and match["kind"] not in ("CloudTrail", "CloudTrail-Digest"):
        return False
    if match["region"] is not None and not selection.wants(match["account"], match["region"]):
        return False
    if match["year"] is None:
        return True
    digest = match["kind"] == "CloudTrail-Digest"
    first = (selection.window.start - (DIGEST_SPAN if digest else timedelta(0))).date()
    last = (selection.window.end + DELIVERY_SLACK + (DIGEST_SPAN if digest else timedelta(0))).date()
    year, month, day = int(match["year"]), match["month"], match["day"]
    if month is None:
        return first.year <= year <= last.year
    if day is None:
        return (first.year, first.month) <= (year, int(month)) <= (last.year, last.month)
    try:
        return first <= date(year, int(month), int(day)) <= last
    except ValueError:
        return False


class _S3Source(_Source):
    """s3://bucket/prefix: account, Region and day prefixes listed (ListObjectsV2), objects read (GetObject)."""

    def __init__(self, fetch: Fetcher, source: str) -> None:
        bucket, _, prefix = source[len("s3://"):].partition("/")
        if not bucket:
            raise BadInput("cloudtrail_source", "s3://bucket/prefix", source)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.fetch, self.bucket, self.prefix = fetch, bucket, prefix
        self.gaps = []
        self.signatures = {}

    def _list(self, prefix: str, delimiter: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            params["Delimiter"] = "/"
        return self.fetch.fetch(None, "s3", "ListObjectsV2", params, target=f"s3://{self.bucket}/{prefix}") or {}

    def _children(self, prefix: str) -> list[str]:
        return [c["Prefix"][len(prefix):].rstrip("/") for c in self._list(prefix, True).get("CommonPrefixes") or []
                if c.get("Prefix")]

    def _account_bases(self, selection: LogSelection) -> list[str]:
        """`AWSLogs/<account>/` and, for organisation trails, `AWSLogs/<org-id>/<account>/`."""
        root = f"{self.prefix}AWSLogs/"
        bases: list[str] = []
        for child in self._children(root):
            if child.startswith("o-"):
                bases += [f"{root}{child}/{account}/" for account in self._children(f"{root}{child}/")
                          if re.fullmatch(r"\d{12}", account) and _wanted(selection.accounts, account)]
            elif re.fullmatch(r"\d{12}", child) and _wanted(selection.accounts, child):
                bases.append(f"{root}{child}/")
        return bases

    def listing(self, selection: LogSelection, digests: bool = True) -> list[ListedFile]:
        prefixes: list[tuple[str, bool]] = []
        for base in self._account_bases(selection):
            regions = selection.regions_of(base.rstrip("/").rsplit("/", 1)[-1])
            for region in regions if regions is not None else self._children(f"{base}CloudTrail/"):
                prefixes += [(f"{base}CloudTrail/{region}/{day:%Y/%m/%d}/", False) for day in selection.days()]
                if digests:
                    prefixes += [(f"{base}CloudTrail-Digest/{region}/{day:%Y/%m/%d}/", True)
                                 for day in selection.days(DIGEST_SPAN)]
        listings = self.fetch.each(lambda p: (p[1], self._list(p[0]).get("Contents") or []), prefixes)
        out: list[ListedFile] = []
        for digest, contents in listings:
            for item in contents:
                relative = item["Key"][len(self.prefix):]
                keep = digest_selected(relative, selection) if digest else selected(relative, selection)
                if keep:
                    out.append(ListedFile(relative, item["Key"], int(item.get("Size") or 0), digest=digest))
        return out

    def jobs(self, items: list[ListedFile], needles: Needles | None, keep: RecordFilter | None,
             digest: bool) -> Iterator[ParseJob]:
        """Objects fetched a batch at a time on the fetcher's threads (bounded bytes in memory)."""
        batch = max(1, self.fetch.workers * 4)
        for start in range(0, len(items), batch):
            chunk = items[start:start + batch]
            for item, data in zip(chunk, self.fetch.each(self._get, chunk)):
                yield ParseJob(item.relative, data=data, needles=needles, keep=keep, digest=digest,
                               unreadable=None if data is not None else "s3:GetObject failed (see its gap)")

    def _get(self, item: ListedFile) -> bytes | None:
        client = self.fetch.clients("s3")
        try:
            response = client.get_object(Bucket=self.bucket, Key=item.location)
            body: bytes = response["Body"].read()
        except Exception as exc:  # noqa: BLE001 - becomes a gap; the file is not read (never "mismatched")
            self.gaps.append(gap_from_exception("s3:GetObject", {"Bucket": self.bucket, "Key": item.location},
                                                self.fetch.region, exc, target=f"s3://{self.bucket}/{item.location}"))
            return None
        signature = (response.get("Metadata") or {}).get("signature")
        if item.digest and isinstance(signature, str):
            self.signatures[item.relative.rsplit("/", 1)[-1]] = signature
        return body


# ---- parsing, here or in worker processes -------------------------------------------------------------------

def _parse_all(jobs: Iterator[ParseJob], count: int, total_bytes: int, workers: int | None, started: float,
               budget: Budget) -> Iterator[ParsedFile | None]:
    """Parsed files in order; None for each file left when the time budget ran out.

    Worker processes come from a forkserver (never a fork of this threaded process); like any multiprocessing
    start method but fork, it imports the main script again, so a script must keep its work under
    `if __name__ == "__main__":`. Should the pool break anyway, the files left are parsed here."""
    workers = workers if workers is not None else min(MAX_PARSE_WORKERS, os.cpu_count() or 1)
    if workers <= 1 or count < PARALLEL_MIN_FILES:
        yield from _parse_here(jobs, started, budget)
        return
    context = multiprocessing.get_context("forkserver")
    window = workers * 2  # files in flight: bounds the memory of bytes and records waiting
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: list[tuple[ParseJob, Future[ParsedFile]]] = []
        for job in jobs:
            if time.monotonic() - started > budget.max_seconds:
                pending.append((job, _none_future()))
            else:
                try:
                    pending.append((job, pool.submit(parse_job, job)))
                except BrokenProcessPool:
                    pending.append((job, _failed_future()))
            while len(pending) >= window:
                yield _result(*pending.pop(0))
        for job, future in pending:
            yield _result(job, future)


def _parse_here(jobs: Iterator[ParseJob], started: float, budget: Budget) -> Iterator[ParsedFile | None]:
    for job in jobs:
        yield None if time.monotonic() - started > budget.max_seconds else parse_job(job)


def _result(job: ParseJob, future: Future[ParsedFile]) -> ParsedFile | None:
    try:
        return future.result()
    except BrokenProcessPool:  # a worker died (killed, out of memory, a main script without its guard)
        return parse_job(job)


def _failed_future() -> Future[Any]:
    future: Future[Any] = Future()
    future.set_exception(BrokenProcessPool("the worker pool is broken"))
    return future


def _none_future() -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(None)
    return future
