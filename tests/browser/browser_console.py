"""What the page logs: console errors and uncaught exceptions, minus a narrow, commented allow-list."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from playwright.sync_api import ConsoleMessage, Error, Page

ALLOWLIST_PATH = Path(__file__).with_name("console_allowlist.yaml")


@dataclass(frozen=True)
class Allowed:
    """One tolerated console error: a pattern and the reason it is harmless."""

    pattern: re.Pattern[str]
    why: str


@dataclass
class ConsoleLog:
    """Every console message of one page, in order; `errors()` is what a test must not see."""

    allowed: list[Allowed]
    messages: list[str] = field(default_factory=list)
    error_lines: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        """Start recording `page`'s console and uncaught exceptions."""
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def errors(self) -> list[str]:
        """Console errors and uncaught exceptions that no allow-list entry covers."""
        return [line for line in self.error_lines if not any(a.pattern.search(line) for a in self.allowed)]

    def _on_console(self, message: ConsoleMessage) -> None:
        source = message.location.get("url", "") if message.location else ""
        line = f"{message.type}: {message.text} @ {source}"
        self.messages.append(line)
        if message.type == "error":
            self.error_lines.append(line)

    def _on_page_error(self, error: Error) -> None:
        line = f"pageerror: {error.name}: {error.message} @ {error.stack or ''}"
        self.messages.append(line)
        self.error_lines.append(line)


def load_allowlist(path: Path = ALLOWLIST_PATH) -> list[Allowed]:
    """The allow-list; every entry needs a pattern and a reason."""
    entries = yaml.safe_load(path.read_text())["allow"] or []
    allowed = []
    for entry in entries:
        if not entry.get("why"):
            raise ValueError(f"{path}: entry {entry!r} does not say why it is harmless")
        allowed.append(Allowed(pattern=re.compile(entry["pattern"]), why=entry["why"]))
    return allowed
