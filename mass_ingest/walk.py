"""Listing a share: the one place that touches the directory tree.

Discovery asks for one folder at a time (so it can prune by layout depth) and for
the files below a session folder. ``os.scandir`` tells file/folder type without a
second stat; sizes are read only for the files that need them. A session's files are kept
as names per folder (:class:`FileList`), not as an object per file. Symbolic links are
followed only while they stay inside the share root and lead to nothing the walk lists anyway
(a folder of the same session, another session folder, one already followed, the root or above):
so no file is counted twice. Special files (FIFOs, sockets, devices) are reported by kind and never
opened. Every problem becomes a finding, never an exception.

A walker is used by one thread at a time. Discovery keeps many listings in flight by giving each
task of its thread pool a :meth:`Walker.fork` (same share, its own findings; the folder count, the
session folders and their real paths shared) and merging the results in a fixed order, so what it
finds does not depend on the pool.
"""

from __future__ import annotations

import os
import stat
from itertools import compress
from operator import attrgetter
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from mass_ingest.file_list import FileList
from mass_ingest.findings import Finding, Stage, finding


# The fingerprint row standing for a session folder itself: its size is the number of rows below it
# (files and listing problems), -1 when the folder cannot be listed (gone, or not a folder any more).
FOLDER = "."


_SPECIAL_KINDS = ((stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISSOCK, "socket"),
                  (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"))


def special_kind(entry: os.DirEntry) -> str | None:
    """What a directory entry that is neither a regular file nor a folder is ('FIFO (named pipe)', 'socket',
    'character device', 'block device'), from one stat that never opens it; None for a broken link or
    an entry that vanished."""
    try:
        mode = entry.stat(follow_symlinks=True).st_mode
    except OSError:
        return None
    for test, kind in _SPECIAL_KINDS:
        if test(mode):
            return kind
    return None


class _Shared:
    """What a walk and its forks share: folders listed (told to a callback as the count grows), the
    session folders' real paths once resolved, and the lock guarding both."""

    __slots__ = ("listed", "callback", "session_reals", "lock")

    def __init__(self, callback: Callable[[int], None] | None) -> None:
        self.listed = 0
        self.callback = callback
        self.session_reals: frozenset[str] | None = None
        self.lock = threading.Lock()

    def add_listed(self) -> None:
        with self.lock:  # forks list in several threads; the callback sees each total once, in order
            self.listed += 1
            if self.callback is not None:
                self.callback(self.listed)


@dataclass
class Walker:
    """Lists folders of one share, collecting findings about the tree itself.

    ``sessions``: the session folders discovery will describe (paths as the walk made them), set
    before :meth:`files_below` is called, so that a link inside one session into another is refused.

    ``on_listed`` is called with the number of folders listed so far (this walker and its forks),
    after each listing, readable or not: from whichever thread listed it, one call at a time.
    Keep it cheap (it runs under the walk's lock); a progress line every few seconds is the use.
    """

    share: str
    root: str
    findings: list[Finding] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    links_followed: bool = False   # True once subfolders() followed a link: folder real paths then differ
    on_listed: Callable[[int], None] | None = None
    _root_real: str = ""
    _prefix: str = ""
    _shared: _Shared | None = None  # one per walk, the same object in every fork

    def __post_init__(self) -> None:
        self._root_real = os.path.realpath(self.root)
        # Paths the walk makes are the root + os.sep + names; other spellings go through relpath.
        self._prefix = self.root + os.sep if not self.root.endswith(os.sep) else "\0"
        self._shared = _Shared(self.on_listed)

    @property
    def root_real(self) -> str:
        """The share root's real path (links resolved)."""
        return self._root_real

    @property
    def folders_listed(self) -> int:
        """Folders listed so far by this walker and its forks."""
        return self._shared.listed

    def fork(self) -> Walker:
        """A walker of the same share for one thread's part of the walk: its own findings, the same count.

        No system call (the root's real path is reused), so a pool can make one per task; the fields copied
        as ``copy.copy`` would, without its generic reduce protocol (a few us, once per session folder).
        """
        forked = object.__new__(type(self))
        forked.__dict__.update(self.__dict__)
        forked.findings = []
        return forked

    def rel(self, path: str) -> str:
        """``path`` relative to the root, POSIX separators (a path the walk made is cut, not normalised)."""
        if path.startswith(self._prefix):
            return path[len(self._prefix):].replace(os.sep, "/")
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    def real_rel(self, real: str) -> str:
        """A real path below the share's real root, relative to it (POSIX separators)."""
        return os.path.relpath(real, self._root_real).replace(os.sep, "/")

    def _report(self, code: str, path: str, message: str) -> None:
        self.findings.append(finding(code, stage=Stage.DISCOVER, share=self.share, path=self.rel(path),
                                     message=message))

    def _usable_name(self, entry: os.DirEntry, parent: str) -> bool:
        # Python maps undecodable bytes to lone surrogates; such names cannot be stored or
        # compared reliably, so they are reported, not silently walked or dropped.
        try:
            entry.name.encode("utf-8")
        except UnicodeEncodeError:
            shown = entry.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            self._report("DISCOVER.BAD_NAME", parent, f"'{shown}' is not valid UTF-8; rename it on the share "
                         "so it can be ingested")
            return False
        return True

    def _report_special(self, entry: os.DirEntry, kind: str) -> None:
        self._report("DISCOVER.SPECIAL_FILE", entry.path,
                     f"is a {kind}, not a regular file; it is not opened (reading it could block the walk "
                     "forever); replace it with the real file or remove it")

    def session_reals(self) -> frozenset[str]:
        """Real paths of :attr:`sessions`, resolved once, at the first link met inside a session."""
        shared = self._shared
        with shared.lock:  # forks in several threads meet links; the paths are resolved once for all
            if shared.session_reals is None:
                if self.links_followed:
                    shared.session_reals = frozenset(os.path.realpath(p) for p in self.sessions)
                else:  # no link above the sessions: each real path is the real root + its rel, no syscall
                    shared.session_reals = frozenset(os.path.join(self._root_real, self.rel(p).replace("/", os.sep))
                                                     for p in self.sessions)
            return shared.session_reals

    def _follow_link(self, entry: os.DirEntry, seen: set[str], boundary: str | None = None) -> str | None:
        """The real path of a linked folder when it may be walked, else None (with a finding).

        ``boundary`` is the real session folder (None at the levels above sessions), ``seen`` the real
        folders already entered through links. A link is not followed when the walk lists its target
        anyway or already did: the share root or above, the session folder, a folder inside it, a folder
        inside or around one already followed, or another session folder (which is described on its own).
        """
        target = os.path.realpath(entry.path)
        if not _within(target, self._root_real):
            self._report("DISCOVER.SYMLINK_OUTSIDE", entry.path,
                         f"link points to '{target}', outside the share root; it is not followed "
                         "(copy the data into the share or add that place as a share)")
            return None
        why = None
        if _within(self._root_real, target):
            why = "the share root or a folder above it"
        elif boundary is not None:
            if _within(boundary, target):
                why = "this session folder or a folder above it"
            elif _within(target, boundary):
                why = f"'{self.real_rel(target)}', a folder of this session listed anyway"
            elif any(_within(target, s) or _within(s, target) for s in seen):
                why = f"'{self.real_rel(target)}', a folder already walked through another link"
            else:
                other = next((s for s in self.session_reals() if _within(target, s) or _within(s, target)), None)
                if other is not None:
                    why = f"'{self.real_rel(target)}', inside or around the session folder '{self.real_rel(other)}'"
        if why is not None:
            self._report("DISCOVER.SYMLINK_LOOP", entry.path,
                         f"link leads back to {why}; it is not followed, so nothing is counted twice (remove the "
                         "link if nothing needs it)")
            return None
        return target

    def _list(self, path: str, consequence: str) -> list[os.DirEntry]:
        """The entries of one folder; [] with a finding saying ``consequence`` when it cannot be listed."""
        try:
            with os.scandir(path) as it:
                return list(it)
        except OSError as exc:
            self._report("DISCOVER.UNREADABLE_DIR", path, f"cannot be listed ({exc.strerror}); {consequence}; "
                         "give the worker's user read access")
            return []
        finally:
            self._shared.add_listed()

    def subfolders(self, path: str) -> list[tuple[str, str]]:
        """(name, path) of the folders directly in ``path``, sorted by name; [] with a finding if unreadable."""
        entries = self._list(path, "sessions below it are not seen (or exclude it in the profile)")
        out = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if not is_dir or not self._usable_name(entry, path):
                continue
            if entry.is_symlink():
                if self._follow_link(entry, set()) is None:
                    continue
                self.links_followed = True
            out.append((entry.name, entry.path))
        return sorted(out)

    def fingerprint(self, folder: str) -> list[tuple[str, int, int]]:
        """:func:`fingerprint` of a session folder listed now (one thread; see :meth:`files_below`)."""
        if not os.path.isdir(folder):
            return [(FOLDER, -1, -1)]
        forked = self.fork()
        return fingerprint(forked.files_below(folder), forked.findings, self._root_real)

    def files_below(self, folder: str, max_depth: int = 8) -> FileList:
        """Every file below a session folder (one pass, depth-bounded), kept per folder."""
        folders: dict[str, list[str]] = {}
        special: dict[str, str] = {}
        links = _Links(self, folder)
        stack = [(folder, "", 0)]
        while stack:
            path, rel, depth = stack.pop()
            entries = self._list(path, "files in it are not seen")
            split = _split_plain(entries)
            if split is None:  # a name to check, an odd type or a link that cannot be followed: entry by entry
                names = []
                for entry in entries:
                    # Only a non-ASCII name can fail to encode; encoding every name costs a bytes object each.
                    if not entry.name.isascii() and not self._usable_name(entry, path):
                        continue
                    try:  # both follow links; from the scandir type for all else
                        if entry.is_file():
                            names.append(entry.name)
                            continue
                        if not entry.is_dir():
                            kind = special_kind(entry)
                            if kind is not None:
                                special[f"{rel}/{entry.name}" if rel else entry.name] = kind
                                self._report_special(entry, kind)
                            continue
                    except OSError:
                        continue
                    if links.enter(entry) and depth < max_depth:
                        stack.append((entry.path, f"{rel}/{entry.name}" if rel else entry.name, depth + 1))
            else:
                names, subfolders = split
                for entry in subfolders:
                    if links.enter(entry) and depth < max_depth:
                        stack.append((entry.path, f"{rel}/{entry.name}" if rel else entry.name, depth + 1))
            if names:
                names.sort()
                folders[rel] = names
        return FileList(folder, folders, special)


def fingerprint(files: FileList, findings: list[Finding], root_real: str) -> list[tuple[str, int, int]]:
    """(file, size, mtime_ns) of every file of a session folder's listing, sorted; the folder's own row first.

    ``files`` and ``findings`` are what :meth:`Walker.files_below` gave for the folder (discovery's
    listing, or a new one). A file that is a link is described by its target only when the target is
    inside the share (``root_real``); a link leading outside is described by the link itself, never
    followed. A listing problem is a row ``"<path> [<finding code>]"``, so a permission change shows.
    A file gone since the listing is (file, -1, -1).
    """
    rows = []
    for entry in files:
        try:
            # One lstat per plain file; a link is stat'ed again through it only when it stays inside.
            st = os.lstat(entry.path)
            if stat.S_ISLNK(st.st_mode) and _within(os.path.realpath(entry.path), root_real):
                st = os.stat(entry.path)
            rows.append((entry.rel, st.st_size, st.st_mtime_ns))
        except OSError:
            rows.append((entry.rel, -1, -1))
    rows.extend((f"{f.path} [{f.code}]", -1, -1) for f in findings)
    return [(FOLDER, len(rows), -1), *sorted(rows)]


_NAME, _IS_FILE = attrgetter("name"), os.DirEntry.is_file


def _split_plain(entries: list[os.DirEntry]) -> tuple[list[str], list[os.DirEntry]] | None:
    """(file names, folder entries) when every name is ASCII and every entry is a file or a folder; else None.

    The usual folder, in a few C-level passes (map, compress) instead of a Python step per test per entry.
    """
    names = list(map(_NAME, entries))
    if not "".join(names).isascii():
        return None
    try:
        is_file = list(map(_IS_FILE, entries))
        files = list(compress(names, is_file))
        if len(files) == len(entries):  # a folder of files only: most of a session's folders
            return files, []
        subfolders = [entry for entry, file in zip(entries, is_file) if not file and entry.is_dir()]
    except OSError:
        return None
    if len(files) + len(subfolders) != len(entries):  # a special file or a broken link: looked at one by one
        return None
    return files, subfolders


class _Links:
    """Which linked folders below one session folder may be entered (see :meth:`Walker._follow_link`)."""

    def __init__(self, walker: Walker, folder: str) -> None:
        self.walker, self.folder = walker, folder
        self.folder_real: str | None = None  # resolved at the first linked folder: most sessions have none
        self.seen: set[str] = set()

    def enter(self, entry: os.DirEntry) -> bool:
        """True for a folder to walk: not a link, or a link the walker may follow (reported if not)."""
        if not entry.is_symlink():
            return True
        if self.folder_real is None:
            self.folder_real = os.path.realpath(self.folder)
        target = self.walker._follow_link(entry, self.seen, boundary=self.folder_real)
        if target is None:
            return False
        self.seen.add(target)
        return True


def _within(path: str, ancestor: str) -> bool:
    """True when ``path`` is ``ancestor`` or below it (real paths)."""
    return path == ancestor or path.startswith(ancestor.rstrip(os.sep) + os.sep)
