"""The files below one session folder, as the walker found them: names kept per folder.

A session of a large share holds dozens of files and discovery looks at every session, so no
object is made per file: :class:`FileList` keeps each folder's names, answers the questions the
recording systems ask (``with_suffix``, ``names_in``, ``folder_items``) from them, and makes
:class:`FileEntry` objects only for the files asked about. :mod:`mass_ingest.walk` builds it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import NamedTuple


class FileEntry(NamedTuple):
    """A file below a session folder."""

    rel: str          # relative to the session folder, POSIX separators
    name: str
    path: str         # absolute path on this worker


def _holds_any(text: str, parts: list[str]) -> bool:
    for part in parts:  # a loop, not any(generator): this runs for every folder of every session
        if part in text:
            return True
    return False


class FileList(Sequence[FileEntry]):
    """The files below one session folder, kept per folder as plain names (no object per file).

    As a sequence it is every file as a :class:`FileEntry`, sorted by relative path (made on first
    use). The recording systems mostly ask narrower questions, answered without a Python step per
    file: :meth:`names_in` one folder, :meth:`folder_items`, :meth:`with_suffix`.
    """

    __slots__ = ("folder", "_folders", "_entries", "_items", "_exact", "_lower", "special")

    def __init__(self, folder: str, folders: dict[str, list[str]], special: dict[str, str] | None = None) -> None:
        """``folder``: the session folder on this worker; ``folders``: folder rel ('' for the session
        folder itself) -> sorted names of the files directly in it (folders without files may be left out);
        ``special``: rel -> kind ('FIFO', 'socket', ...) of special files, which are not in ``folders``."""
        self.folder = folder.rstrip(os.sep) or folder
        self._folders = folders
        self.special = special or {}
        self._entries: list[FileEntry] | None = None
        self._items: list[tuple[str, list[str]]] | None = None
        self._exact: dict[str | None, str] | None = None
        self._lower: dict[str | None, str] | None = None

    def path(self, rel: str) -> str:
        """The file's path on this worker (as ``os.scandir`` gives it)."""
        return f"{self.folder}{os.sep}{rel.replace('/', os.sep)}"

    def entry(self, folder: str, name: str) -> FileEntry:
        rel = f"{folder}/{name}" if folder else name
        return FileEntry(rel, name, self.path(rel))

    def names_in(self, folder: str) -> list[str]:
        """Sorted names of the files directly in ``folder`` ('' for the session folder)."""
        return self._folders.get(folder, [])

    def folder_items(self) -> list[tuple[str, list[str]]]:
        """(folder rel, sorted names) of every folder holding files, in the order of their first file."""
        if self._items is None:
            self._items = sorted(((f, n) for f, n in self._folders.items() if n),
                                 key=lambda item: f"{item[0]}/{item[1][0]}" if item[0] else item[1][0])
        return self._items

    def with_suffix(self, *suffixes: str, exact_case: bool = False) -> list[FileEntry]:
        """The files whose name ends with one of ``suffixes``, sorted by path.

        Names are compared lower-cased (give ``suffixes`` in lower case) unless ``exact_case``.
        A folder is looked into only when its names, joined, hold a suffix: one substring search
        per folder instead of a test per file, as most systems find nothing in most sessions.
        """
        if exact_case:
            blobs = self._exact or self._blobs(exact_case)
        else:
            blobs = self._lower or self._blobs(exact_case)
        keys = [f"{s}\n" for s in suffixes]
        found: list[FileEntry] = []
        if not _holds_any(blobs[None], keys):  # the usual answer: this system has nothing here
            return found
        entry = self.entry
        for folder, names in self._folders.items():
            blob = blobs.get(folder)
            if blob is None:  # lower-cased folders are made when first asked about (see _blobs)
                blob = blobs[folder] = ("\n".join(names) + "\n").lower()
            if _holds_any(blob, keys):
                if exact_case:
                    found += [entry(folder, name) for name in names if name.endswith(suffixes)]
                else:
                    found += [entry(folder, name) for name in names if name.lower().endswith(suffixes)]
        found.sort()
        return found

    def _blobs(self, exact_case: bool) -> dict[str | None, str]:
        """Per folder (None: all of them), its names joined by and ending with newlines; lower-cased
        unless ``exact_case``, and then only all of them at first: most systems look no further."""
        if exact_case:
            blobs: dict[str | None, str] = {folder: "\n".join(names) + "\n" for folder, names in self._folders.items()}
            blobs[None] = "".join(blobs.values())
            self._exact = blobs
            return blobs
        # str.lower() maps each folder's part of the whole as it maps the part alone: every part ends with '\n'.
        self._lower = {None: (self._exact or self._blobs(True))[None].lower()}
        return self._lower

    def _all(self) -> list[FileEntry]:
        if self._entries is None:
            self._entries = sorted(self.entry(folder, name) for folder, names in self._folders.items()
                                   for name in names)
        return self._entries

    def __len__(self) -> int:
        return sum(map(len, self._folders.values()))

    def __getitem__(self, index):  # type: ignore[override]
        return self._all()[index]

    def __iter__(self) -> Iterator[FileEntry]:
        return iter(self._all())

    def __repr__(self) -> str:
        return f"FileList({self.folder!r}, {len(self)} files)"
