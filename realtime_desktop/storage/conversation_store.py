"""The conversation store: one JSON document per conversation, an index, a trash folder.

Layout of the conversations folder::

    <id>.json              one ConversationDocument each (written atomically, compact JSON)
    index.json             a summary per conversation for fast listing (derived data)
    recordings/<id>/       WAV files, only when the user turned recording on
    trash/<id>.json        deleted conversations (and trash/recordings/<id>/)
    set-aside/             corrupt or newer-version documents, renamed to say so

The index is a cache: each entry records the size, modification time and inode of the document
it summarises. Every save replaces the document (a new inode) and then the index, under one
lock; after a crash between the two, :meth:`ConversationStore.refresh` notices the stale stamp
and re-reads only that document. A missing, corrupt or newer index is rebuilt from the
documents. A corrupt or newer-version document is moved to ``set-aside/`` with a notice; nothing
here raises anything but the documented exceptions.

Threads: every method is safe to call from any thread (one lock guards the index and the
writes). Reads and writes block on the disk, so from the event loop use the ``*_async`` methods
or :class:`~.autosave.Autosaver`; :meth:`prepare` must run where the document is owned (the
loop), :meth:`write_prepared` anywhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, ValidationError

from realtime_desktop.storage.conversation import (
    CONVERSATION_ID_PATTERN,
    CONVERSATION_SCHEMA_VERSION,
    ConversationDocument,
    DocumentModel,
    display_title,
)
from realtime_desktop.storage.export import ExportFormat, render
from realtime_desktop.storage.files import (
    StorageError,
    atomic_write_bytes,
    ensure_directory,
    read_bytes,
    set_aside,
    sweep_stale_temp_files,
)
from realtime_desktop.storage.migrations import Migration, MigrationError, check_chain, migrate
from realtime_desktop.storage.notices import NoticeKind, Severity, StorageNotice

if TYPE_CHECKING:
    from realtime_desktop.storage.autosave import Autosaver

log = logging.getLogger(__name__)

INDEX_FILE_NAME = "index.json"
INDEX_SCHEMA_VERSION = 1
TRASH_FOLDER_NAME = "trash"
SET_ASIDE_FOLDER_NAME = "set-aside"
RECORDINGS_FOLDER_NAME = "recordings"
DOCUMENT_SUFFIX = ".json"

# Oldest first, as for settings; empty until the document schema changes.
CONVERSATION_MIGRATIONS: tuple[Migration, ...] = ()
check_chain(CONVERSATION_MIGRATIONS, CONVERSATION_SCHEMA_VERSION)


class FileStamp(DocumentModel):
    """Identifies one version of a file: a save replaces the file, so the inode changes even
    when size and modification time (coarse on some file systems) do not."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FileStamp:
        return cls(size=stat.st_size, mtime_ns=stat.st_mtime_ns, inode=stat.st_ino)


class ConversationSummary(DocumentModel):
    """One row of the history list (the index entry of one conversation)."""

    id: str
    title: str  # as the user set it; may be empty
    display_title: str  # title, else the first thing the user said, else the date
    preview: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    duration_ms: int
    turn_count: int
    item_count: int
    cost_usd: float | None
    provider: str
    model: str
    file: FileStamp | None = None

    @classmethod
    def of(cls, document: ConversationDocument) -> ConversationSummary:
        return cls(
            id=document.id,
            title=document.title,
            display_title=document.display_title,
            preview=document.preview,
            created_at=document.created_at,
            updated_at=document.updated_at,
            duration_ms=document.duration_ms,
            turn_count=document.turn_count,
            item_count=len(document.items),
            cost_usd=document.total_cost_usd,
            provider=document.provider,
            model=document.model,
        )

    def matches(self, words: Iterable[str]) -> bool:
        haystack = f"{self.display_title}\n{self.preview}\n{self.model}\n{self.provider}".lower()
        return all(word in haystack for word in words)


class IndexFile(DocumentModel):
    schema_version: int = INDEX_SCHEMA_VERSION
    conversations: list[ConversationSummary]


@dataclasses.dataclass(frozen=True)
class PreparedSave:
    """A document serialised where it is owned, ready to be written from any thread."""

    id: str
    data: bytes
    summary: ConversationSummary


@dataclasses.dataclass(frozen=True)
class SearchHit:
    summary: ConversationSummary
    snippet: str  # the matching text, shortened around the first match
    item_id: str | None  # the item it is in; None when the title matched


class ConversationNotFoundError(LookupError):
    """No conversation with that id (it was deleted, or the id is not one)."""


class ConversationInUseError(RuntimeError):
    """The conversation is open in a live session; close it first."""


class ConversationUnavailableError(Exception):
    """The document exists but cannot be used; ``notice`` says why and where it went."""

    def __init__(self, notice: StorageNotice) -> None:
        super().__init__(notice.message)
        self.notice = notice


class _UnusableDocumentError(Exception):
    """Internal: a document's bytes are not a usable document."""

    def __init__(self, kind: NoticeKind, label: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.label = label
        self.reason = reason


class ConversationStore:
    """All saved conversations in ``folder`` (normally ``AppPaths.conversations_dir(...)``).

    Nothing touches the disk until first use; :meth:`refresh` (called by the first listing)
    loads the index, reconciles it with the folder and sweeps leftovers of killed writers.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.RLock()
        self._entries: dict[str, ConversationSummary] | None = None
        self._notices: list[StorageNotice] = []
        self._reported: set[tuple[NoticeKind, Path]] = set()
        self._live: dict[str, Autosaver] = {}

    # Paths ------------------------------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self.folder / INDEX_FILE_NAME

    @property
    def trash_folder(self) -> Path:
        return self.folder / TRASH_FOLDER_NAME

    @property
    def set_aside_folder(self) -> Path:
        return self.folder / SET_ASIDE_FOLDER_NAME

    def document_path(self, conversation_id: str) -> Path:
        return self.folder / f"{_checked_id(conversation_id)}{DOCUMENT_SUFFIX}"

    def recordings_dir(self, conversation_id: str) -> Path:
        """Where recordings of this conversation go (created by whoever records, only when
        recording is on; ``RecordingRef`` paths are relative to it)."""
        return self.folder / RECORDINGS_FOLDER_NAME / _checked_id(conversation_id)

    # Notices ----------------------------------------------------------------------------------

    def take_notices(self) -> list[StorageNotice]:
        """Notices since the last call (each problem is reported once per store)."""
        with self._lock:
            notices, self._notices = self._notices, []
        return notices

    def _notice(self, notice: StorageNotice) -> None:
        key = (notice.kind, notice.path)
        if key not in self._reported:
            self._reported.add(key)
            self._notices.append(notice)

    # Listing ----------------------------------------------------------------------------------

    def list_conversations(self, query: str = "") -> list[ConversationSummary]:
        """Conversations, most recently updated first; ``query`` keeps those whose title,
        preview, model or provider contain every word of it (case-insensitive)."""
        with self._lock:
            entries = self._loaded()
            words = query.lower().split()
            found = [entry for entry in entries.values() if entry.matches(words)]
        found.sort(key=lambda entry: entry.updated_at, reverse=True)
        return found

    async def list_conversations_async(self, query: str = "") -> list[ConversationSummary]:
        """:meth:`list_conversations` in a worker thread (the first listing reads the folder)."""
        return await asyncio.to_thread(self.list_conversations, query)

    def summary(self, conversation_id: str) -> ConversationSummary:
        with self._lock:
            entry = self._loaded().get(conversation_id)
        if entry is None:
            raise ConversationNotFoundError(conversation_id)
        return entry

    def search(self, query: str) -> list[SearchHit]:
        """Full-text search through every document (slower than :meth:`list_conversations`:
        it reads them).
        A conversation matches when each word appears in it somewhere."""
        words = query.lower().split()
        if not words:
            return []
        hits: list[SearchHit] = []
        for entry in self.list_conversations():
            if entry.matches(words):
                hits.append(SearchHit(entry, entry.display_title, None))
                continue
            hit = self._search_document(entry, words)
            if hit is not None:
                hits.append(hit)
        return hits

    async def search_async(self, query: str) -> list[SearchHit]:
        return await asyncio.to_thread(self.search, query)

    def _search_document(self, entry: ConversationSummary, words: list[str]) -> SearchHit | None:
        path = self.document_path(entry.id)
        try:
            raw = path.read_bytes()
        except OSError:
            return None  # deleted meanwhile, or unreadable: refresh() reports that
        text = raw.decode("utf-8", errors="replace").lower()
        if _json_safe(words) and not all(word in text for word in words):
            return None  # cheap reject on the raw text before parsing
        try:
            document = self._parse(path, raw)
        except _UnusableDocumentError:
            return None
        contents = [(item.id, item.content) for item in document.items]
        if not all(any(word in content.lower() for _, content in contents) for word in words):
            return None
        # Show the item that has the most of the words, at the first of them it contains.
        best_id, best_content = max(
            contents, key=lambda pair: sum(word in pair[1].lower() for word in words)
        )
        lowered = best_content.lower()
        position = min(lowered.find(word) for word in words if word in lowered)
        return SearchHit(entry, _snippet(best_content, position), best_id)

    # Reading ----------------------------------------------------------------------------------

    def open(self, conversation_id: str) -> ConversationDocument:
        """The whole document. Raises :class:`ConversationNotFoundError`, or
        :class:`ConversationUnavailableError` (with a notice) when the file is corrupt or from a
        newer version — it has then been set aside — or cannot be read."""
        path = self.document_path(conversation_id)
        try:
            raw = read_bytes(path, "open the conversation")
        except StorageError as exc:
            if not path.exists():
                raise ConversationNotFoundError(conversation_id) from exc
            notice = StorageNotice(
                NoticeKind.CONVERSATION_UNREADABLE, Severity.ERROR, str(exc), path
            )
            raise ConversationUnavailableError(notice) from exc
        try:
            # No lock while parsing: the file was replaced atomically, and a long conversation
            # takes tens of milliseconds that autosaves should not wait for.
            return self._parse(path, raw)
        except _UnusableDocumentError as exc:
            with self._lock:
                notice = self._set_document_aside(path, exc)
                if self._entries is not None and conversation_id in self._entries:
                    del self._entries[conversation_id]
                    self._write_index_or_log()
            raise ConversationUnavailableError(notice) from None

    async def open_async(self, conversation_id: str) -> ConversationDocument:
        return await asyncio.to_thread(self.open, conversation_id)

    # Writing ----------------------------------------------------------------------------------

    def prepare(self, document: ConversationDocument) -> PreparedSave:
        """Serialises ``document`` (on the thread that owns it)."""
        return PreparedSave(
            id=_checked_id(document.id),
            data=document.model_dump_json().encode("utf-8"),
            summary=ConversationSummary.of(document),
        )

    def write_prepared(self, prepared: PreparedSave) -> ConversationSummary:
        """Writes the document, then its index entry; raises :class:`StorageError`."""
        path = self.document_path(prepared.id)
        with self._lock:
            entries = self._loaded()
            atomic_write_bytes(path, prepared.data)
            try:
                stamp = FileStamp.of(path.stat())
            except OSError as exc:
                raise StorageError.from_os_error(exc, path, "check the saved file") from exc
            summary = prepared.summary.model_copy(update={"file": stamp})
            entries[prepared.id] = summary
            self._write_index()
        return summary

    def save(self, document: ConversationDocument) -> ConversationSummary:
        return self.write_prepared(self.prepare(document))

    async def save_async(self, document: ConversationDocument) -> ConversationSummary:
        """Serialises here (the loop owns the document), writes in a worker thread."""
        prepared = self.prepare(document)
        return await asyncio.to_thread(self.write_prepared, prepared)

    def rename(self, conversation_id: str, title: str) -> None:
        """Sets the title. For a conversation open in a live session the live document is
        retitled and saved by its autosaver, so the two never race."""
        title = " ".join(title.split())
        with self._lock:
            live = self._live.get(conversation_id)
            entries = self._loaded()
            if live is not None:
                live.retitle(title)
                if conversation_id in entries:
                    entries[conversation_id] = _retitled(entries[conversation_id], title)
                return
        document = self.open(conversation_id)
        document.title = title
        self.save(document)

    async def rename_async(self, conversation_id: str, title: str) -> None:
        await asyncio.to_thread(self.rename, conversation_id, title)

    def delete(self, conversation_id: str) -> None:
        """Moves the conversation (and its recordings) to the trash folder."""
        path = self.document_path(conversation_id)
        with self._lock:
            if conversation_id in self._live:
                raise ConversationInUseError(conversation_id)
            if not path.exists():
                raise ConversationNotFoundError(conversation_id)
            ensure_directory(self.trash_folder)
            _move(path, self.trash_folder / path.name)
            recordings = self.recordings_dir(conversation_id)
            if recordings.exists():
                trashed = self.trash_folder / RECORDINGS_FOLDER_NAME / conversation_id
                ensure_directory(trashed.parent)
                if trashed.exists():
                    shutil.rmtree(trashed)
                _move(recordings, trashed)
            self._loaded().pop(conversation_id, None)
            self._write_index()
        log.info("moved conversation %s to the trash", conversation_id)

    def deleted(self) -> list[ConversationSummary]:
        """Conversations in the trash, most recently updated first."""
        found: list[ConversationSummary] = []
        with self._lock:
            paths = sorted(self.trash_folder.glob(f"*{DOCUMENT_SUFFIX}"))
            for path in paths:
                try:
                    document = self._parse(path, read_bytes(path))
                except (StorageError, _UnusableDocumentError) as exc:
                    log.warning("skipping unusable file in the trash %s: %s", path, exc)
                    continue
                found.append(ConversationSummary.of(document))
        found.sort(key=lambda entry: entry.updated_at, reverse=True)
        return found

    def restore(self, conversation_id: str) -> ConversationSummary:
        """Moves a conversation back from the trash."""
        trashed = self.trash_folder / f"{_checked_id(conversation_id)}{DOCUMENT_SUFFIX}"
        with self._lock:
            if not trashed.exists():
                raise ConversationNotFoundError(conversation_id)
            path = self.document_path(conversation_id)
            _move(trashed, path)
            recordings = self.trash_folder / RECORDINGS_FOLDER_NAME / conversation_id
            if recordings.exists():
                ensure_directory(self.recordings_dir(conversation_id).parent)
                _move(recordings, self.recordings_dir(conversation_id))
            summary = self._summarize(path)
            if isinstance(summary, StorageNotice):
                raise ConversationUnavailableError(summary)
            self._loaded()[conversation_id] = summary
            self._write_index()
        return summary

    def empty_trash(self) -> int:
        """Deletes everything in the trash for good; returns how many conversations."""
        with self._lock:
            count = len(list(self.trash_folder.glob(f"*{DOCUMENT_SUFFIX}")))
            if self.trash_folder.exists():
                try:
                    shutil.rmtree(self.trash_folder)
                except OSError as exc:
                    raise StorageError.from_os_error(exc, self.trash_folder, "empty") from exc
        return count

    async def delete_async(self, conversation_id: str) -> None:
        await asyncio.to_thread(self.delete, conversation_id)

    async def deleted_async(self) -> list[ConversationSummary]:
        return await asyncio.to_thread(self.deleted)

    async def restore_async(self, conversation_id: str) -> ConversationSummary:
        return await asyncio.to_thread(self.restore, conversation_id)

    async def empty_trash_async(self) -> int:
        return await asyncio.to_thread(self.empty_trash)

    # Export -----------------------------------------------------------------------------------

    def export(self, conversation_id: str, export_format: ExportFormat, destination: Path) -> Path:
        """Writes the conversation to ``destination`` as Markdown, plain text or JSON."""
        text = render(self.open(conversation_id), export_format)
        atomic_write_bytes(destination, text.encode("utf-8"))
        return destination

    async def export_async(
        self, conversation_id: str, export_format: ExportFormat, destination: Path
    ) -> Path:
        return await asyncio.to_thread(self.export, conversation_id, export_format, destination)

    # Live documents (used by the autosaver) ---------------------------------------------------

    def attach(self, autosaver: Autosaver) -> None:
        with self._lock:
            self._live[autosaver.document.id] = autosaver

    def detach(self, autosaver: Autosaver) -> None:
        with self._lock:
            if self._live.get(autosaver.document.id) is autosaver:
                del self._live[autosaver.document.id]

    # The index --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Loads the index and brings it in line with the documents on disk: new or changed
        documents are summarised, vanished ones dropped, unusable ones set aside."""
        with self._lock:
            ensure_directory(self.folder)
            sweep_stale_temp_files(self.folder)
            indexed, index_usable = self._read_index()
            stamps = self._scan()
            entries: dict[str, ConversationSummary] = {}
            changed = not index_usable
            for conversation_id, stamp in stamps.items():
                known = indexed.get(conversation_id)
                if known is not None and known.file == stamp:
                    entries[conversation_id] = known
                    continue
                changed = True
                summary = self._summarize(self.document_path(conversation_id))
                if isinstance(summary, ConversationSummary):
                    entries[conversation_id] = summary
            changed = changed or not indexed.keys() <= stamps.keys()
            self._entries = entries
            if changed:
                self._write_index_or_log()

    async def refresh_async(self) -> None:
        await asyncio.to_thread(self.refresh)

    def _loaded(self) -> dict[str, ConversationSummary]:
        if self._entries is None:
            self.refresh()
        assert self._entries is not None  # refresh() sets it or raises
        return self._entries

    def _read_index(self) -> tuple[dict[str, ConversationSummary], bool]:
        path = self.index_path
        if not path.exists():
            return {}, False
        try:
            index = IndexFile.model_validate_json(read_bytes(path))
        except StorageError as exc:
            log.warning("could not read the conversation index, rebuilding it: %s", exc)
            return {}, False
        except ValidationError as exc:
            problem = f"the conversation index {path} was damaged ({exc.error_count()} error(s))"
            self._notice(
                StorageNotice(
                    NoticeKind.INDEX_REBUILT,
                    Severity.INFO,
                    f"The history list was rebuilt from the saved conversations because {problem}.",
                    path,
                )
            )
            log.warning("rebuilding the index: %s", problem)
            return {}, False
        if index.schema_version != INDEX_SCHEMA_VERSION:
            log.info(
                "index version %d is not %d; rebuilding", index.schema_version, INDEX_SCHEMA_VERSION
            )
            return {}, False
        return {entry.id: entry for entry in index.conversations}, True

    def _write_index(self) -> None:
        entries = self._entries if self._entries is not None else {}
        index = IndexFile.model_construct(
            schema_version=INDEX_SCHEMA_VERSION, conversations=list(entries.values())
        )
        atomic_write_bytes(self.index_path, index.model_dump_json().encode("utf-8"))

    def _write_index_or_log(self) -> None:
        try:
            self._write_index()
        except StorageError as exc:
            # Listing still works from memory; the next save or refresh writes it again.
            log.warning("could not write the conversation index: %s", exc)

    def _scan(self) -> dict[str, FileStamp]:
        stamps: dict[str, FileStamp] = {}
        try:
            entries = list(os.scandir(self.folder))
        except OSError as exc:
            raise StorageError.from_os_error(exc, self.folder, "list") from exc
        for entry in entries:
            name = entry.name
            if not name.endswith(DOCUMENT_SUFFIX) or name == INDEX_FILE_NAME:
                continue
            conversation_id = name.removesuffix(DOCUMENT_SUFFIX)
            if not CONVERSATION_ID_PATTERN.fullmatch(conversation_id):
                continue  # not ours (a hidden temporary file, a user's stray file)
            try:
                if entry.is_file():
                    stamps[conversation_id] = FileStamp.of(entry.stat())
            except FileNotFoundError:
                continue
        return stamps

    def _summarize(self, path: Path) -> ConversationSummary | StorageNotice:
        """The summary of one document, or the notice saying why it cannot be used."""
        try:
            with path.open("rb") as stream:
                stamp = FileStamp.of(os.fstat(stream.fileno()))
                raw = stream.read()
        except OSError as exc:
            error = StorageError.from_os_error(exc, path, "read the conversation")
            notice = StorageNotice(
                NoticeKind.CONVERSATION_UNREADABLE, Severity.ERROR, str(error), path
            )
            self._notice(notice)
            return notice
        try:
            document = self._parse(path, raw)
        except _UnusableDocumentError as exc:
            return self._set_document_aside(path, exc)
        return ConversationSummary.of(document).model_copy(update={"file": stamp})

    def _parse(self, path: Path, raw: bytes) -> ConversationDocument:
        try:
            return ConversationDocument.model_validate_json(raw)
        except ValidationError as fast_path_error:
            # The fast path failed; find out why from the plain JSON.
            return self._parse_slowly(path, raw, fast_path_error)

    def _parse_slowly(
        self, path: Path, raw: bytes, first_error: ValidationError
    ) -> ConversationDocument:
        try:
            data: Any = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _UnusableDocumentError(
                NoticeKind.CONVERSATION_CORRUPT, "corrupt", f"it is not valid JSON ({exc})"
            ) from None
        version = data.get("schema_version") if isinstance(data, dict) else None
        if isinstance(version, bool) or not isinstance(version, int):
            raise _UnusableDocumentError(
                NoticeKind.CONVERSATION_CORRUPT, "corrupt", "it is not a conversation document"
            )
        if version > CONVERSATION_SCHEMA_VERSION:
            raise _UnusableDocumentError(
                NoticeKind.CONVERSATION_FROM_NEWER_VERSION,
                "from-newer-version",
                f"it was saved by a newer version of the app (format {version}; this version "
                f"reads up to {CONVERSATION_SCHEMA_VERSION})",
            )
        if version < CONVERSATION_SCHEMA_VERSION:
            try:
                data = migrate(
                    data,
                    CONVERSATION_MIGRATIONS,
                    from_version=version,
                    current_version=CONVERSATION_SCHEMA_VERSION,
                )
                return ConversationDocument.model_validate(data)
            except (MigrationError, ValidationError) as exc:
                raise _UnusableDocumentError(
                    NoticeKind.CONVERSATION_CORRUPT, "corrupt", str(exc)
                ) from None
        first = first_error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise _UnusableDocumentError(
            NoticeKind.CONVERSATION_CORRUPT,
            "corrupt",
            f"it does not match the conversation format ({where}: {first['msg']})",
        )

    def _set_document_aside(self, path: Path, problem: _UnusableDocumentError) -> StorageNotice:
        try:
            moved_to: Path | None = set_aside(path, problem.label, into=self.set_aside_folder)
            where = f" It was moved to {moved_to}." if moved_to else ""
        except StorageError as exc:
            moved_to, where = None, f" It could not be moved aside: {exc}"
        notice = StorageNotice(
            problem.kind,
            Severity.WARNING,
            f"The saved conversation {path.name} cannot be opened because {problem.reason}.{where}",
            path,
            moved_to,
        )
        log.warning("%s", notice.message)
        self._notice(notice)
        return notice


def _checked_id(conversation_id: str) -> str:
    if not CONVERSATION_ID_PATTERN.fullmatch(conversation_id):
        raise ConversationNotFoundError(conversation_id)
    return conversation_id


def _retitled(entry: ConversationSummary, title: str) -> ConversationSummary:
    shown = display_title(title, entry.preview, entry.created_at)
    return entry.model_copy(update={"title": title, "display_title": shown})


def _move(source: Path, target: Path) -> None:
    try:
        os.replace(source, target)
    except OSError as exc:
        raise StorageError.from_os_error(exc, source, "move") from exc


def _json_safe(words: list[str]) -> bool:
    """True when the words appear in the raw JSON exactly as typed (nothing JSON escapes)."""
    return all(ch not in word for word in words for ch in '"\\') and all(
        ch.isprintable() for word in words for ch in word
    )


def _snippet(text: str, position: int, width: int = 80) -> str:
    start = max(0, position - width // 2)
    end = min(len(text), start + width)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return f"{prefix}{' '.join(text[start:end].split())}{suffix}"
