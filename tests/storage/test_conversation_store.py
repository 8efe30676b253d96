"""The conversation store: documents round-trip, the index stays in sync and is rebuilt when
it cannot be trusted, unusable documents are set aside with a notice, and the trash."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from realtime_desktop.storage.autosave import Autosaver
from realtime_desktop.storage.conversation import (
    CONVERSATION_SCHEMA_VERSION,
    ConversationDocument,
    ConversationItem,
    utc_now,
)
from realtime_desktop.storage.conversation_store import (
    INDEX_FILE_NAME,
    ConversationInUseError,
    ConversationNotFoundError,
    ConversationStore,
    ConversationUnavailableError,
    IndexFile,
)
from realtime_desktop.storage.files import STALE_TEMP_AGE_S
from realtime_desktop.storage.notices import NoticeKind

from .conftest import make_document, until, with_recording


def _index_ids(store: ConversationStore) -> set[str]:
    index = IndexFile.model_validate_json(store.index_path.read_bytes())
    return {entry.id for entry in index.conversations}


def test_a_document_round_trips_with_everything_in_it(store: ConversationStore) -> None:
    document = with_recording(make_document(9, title="Weather in Paris"))
    store.save(document)
    reopened = ConversationStore(store.folder).open(document.id)
    assert reopened == document
    assert reopened.items[2].tool_call is not None
    assert reopened.items[2].tool_call.arguments == '{"city": "Paris"}'
    interrupted = reopened.items[1]
    assert interrupted.interruption is not None
    assert interrupted.interruption.audio_end_ms == 3200
    assert interrupted.status == "incomplete"
    assert interrupted.content == "answer 1: it will"  # what was heard
    assert reopened.totals.cost_usd == pytest.approx(0.03)
    assert reopened.turn_count == 3
    on_disk = json.loads(store.document_path(document.id).read_text())
    assert on_disk["schema_version"] == CONVERSATION_SCHEMA_VERSION


def test_saving_replaces_the_file_atomically(store: ConversationStore) -> None:
    document = make_document(3)
    store.save(document)
    path = store.document_path(document.id)
    with path.open("rb") as reader:
        document.items.append(
            ConversationItem(id="late", role="user", created_at=utc_now(), text="one more")
        )
        store.save(document)
        assert len(json.loads(reader.read())["items"]) == 3  # the old file, whole
    assert len(json.loads(path.read_bytes())["items"]) == 4
    assert sorted(p.name for p in store.folder.iterdir()) == [path.name, INDEX_FILE_NAME]


def test_listing_comes_from_the_index_newest_first(
    store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = [make_document(6, title=f"talk {n}", seed=n) for n in range(3)]
    for offset, document in enumerate(documents):
        document.updated_at = document.updated_at.replace(hour=10 + offset)
        store.save(document)
    listed = store.list_conversations()
    assert [entry.title for entry in listed] == ["talk 2", "talk 1", "talk 0"]
    first = listed[-1]
    assert (first.turn_count, first.item_count, first.duration_ms) == (2, 6, 93_000)
    assert first.cost_usd == pytest.approx(0.02)
    assert first.preview == "question number 0 about the weather"
    assert _index_ids(store) == {d.id for d in documents}

    # A fresh store lists from the index without opening any document.
    def no_document_reads(self: ConversationStore, path: Path) -> None:
        raise AssertionError(f"listing opened {path}")

    monkeypatch.setattr(ConversationStore, "_summarize", no_document_reads)
    fresh = ConversationStore(store.folder)
    assert [entry.id for entry in fresh.list_conversations()] == [e.id for e in listed]


def test_list_filters_by_words_and_search_reads_the_documents(store: ConversationStore) -> None:
    rain = make_document(6, title="Rain in Paris", seed=1)
    rain.items.append(
        ConversationItem(id="x", role="assistant", created_at=utc_now(), text="Bring an umbrella")
    )
    store.save(rain)
    store.save(make_document(6, title="Train times", seed=2))
    assert [e.title for e in store.list_conversations("paris rain")] == ["Rain in Paris"]
    assert [e.title for e in store.list_conversations("TRAIN")] == ["Train times"]
    assert store.list_conversations("umbrella") == []  # only the index is searched
    (hit,) = store.search("umbrella bring")
    assert hit.summary.id == rain.id
    assert hit.item_id == "x"
    assert "umbrella" in hit.snippet.lower()
    assert {h.summary.title for h in store.search("weather")} == {"Rain in Paris", "Train times"}
    assert store.search('say "quoted"') == []
    assert store.search("") == []


def test_missing_index_is_rebuilt_from_the_documents(store: ConversationStore) -> None:
    ids = {store.save(make_document(3, seed=n)).id for n in range(4)}
    store.index_path.unlink()
    fresh = ConversationStore(store.folder)
    assert {e.id for e in fresh.list_conversations()} == ids
    assert _index_ids(fresh) == ids
    assert fresh.take_notices() == []  # a missing index is nothing to tell the user


def test_corrupt_index_is_rebuilt_with_a_notice(store: ConversationStore) -> None:
    ids = {store.save(make_document(3, seed=n)).id for n in range(2)}
    store.index_path.write_text('{"schema_version": 1, "conversations": [{"id": ')
    fresh = ConversationStore(store.folder)
    assert {e.id for e in fresh.list_conversations()} == ids
    (notice,) = fresh.take_notices()
    assert notice.kind is NoticeKind.INDEX_REBUILT
    assert _index_ids(fresh) == ids


def test_index_behind_a_document_is_brought_up_to_date(store: ConversationStore) -> None:
    """What a crash between writing a document and writing the index leaves behind."""
    document = make_document(3, title="before")
    store.save(document)
    stale_index = store.index_path.read_bytes()
    document.title = "after"
    document.items.append(ConversationItem(id="n", role="user", created_at=utc_now(), text="new"))
    store.save(document)
    store.index_path.write_bytes(stale_index)  # as if the index write never happened
    other = make_document(2, seed=9)
    ConversationStore(store.folder).save(other)
    store.index_path.write_bytes(stale_index)  # and the other document is not indexed at all

    fresh = ConversationStore(store.folder)
    by_id = {e.id: e for e in fresh.list_conversations()}
    assert by_id[document.id].title == "after"
    assert by_id[document.id].item_count == 4
    assert other.id in by_id
    assert _index_ids(fresh) == {document.id, other.id}


def test_vanished_documents_leave_the_index(store: ConversationStore) -> None:
    keep, gone = make_document(2, seed=1), make_document(2, seed=2)
    store.save(keep)
    store.save(gone)
    store.document_path(gone.id).unlink()
    store.refresh()
    assert [e.id for e in store.list_conversations()] == [keep.id]
    assert _index_ids(store) == {keep.id}


@pytest.mark.parametrize(
    ("content", "kind", "label"),
    [
        (
            b'{"schema_version": 1, "id": "x", "items": [',
            NoticeKind.CONVERSATION_CORRUPT,
            "corrupt",
        ),
        (b"\x00\x01\x02", NoticeKind.CONVERSATION_CORRUPT, "corrupt"),
        (b'{"schema_version": 1, "items": "many"}', NoticeKind.CONVERSATION_CORRUPT, "corrupt"),
        (b'["not", "a", "document"]', NoticeKind.CONVERSATION_CORRUPT, "corrupt"),
        (
            b'{"schema_version": 99, "id": "x", "items": [{"hologram": true}]}',
            NoticeKind.CONVERSATION_FROM_NEWER_VERSION,
            "from-newer-version",
        ),
    ],
)
def test_unusable_documents_are_set_aside_when_listing(
    store: ConversationStore, content: bytes, kind: NoticeKind, label: str
) -> None:
    good = make_document(3)
    store.save(good)
    bad_path = store.folder / "20261121T101500Z-badbadba.json"
    bad_path.write_bytes(content)
    fresh = ConversationStore(store.folder)
    assert [e.id for e in fresh.list_conversations()] == [good.id]  # nothing crashed
    (notice,) = fresh.take_notices()
    assert notice.kind is kind
    assert notice.moved_to is not None
    assert notice.moved_to.parent == store.set_aside_folder
    assert notice.moved_to.name.startswith(f"20261121T101500Z-badbadba.{label}-")
    assert notice.moved_to.read_bytes() == content
    assert not bad_path.exists()
    assert fresh.take_notices() == []  # reported once


def test_opening_an_unusable_document_raises_with_a_notice(store: ConversationStore) -> None:
    document = make_document(3)
    store.save(document)
    store.list_conversations()
    path = store.document_path(document.id)
    payload = json.loads(path.read_text())
    payload["schema_version"] = CONVERSATION_SCHEMA_VERSION + 1
    path.write_text(json.dumps(payload))
    with pytest.raises(ConversationUnavailableError) as raised:
        store.open(document.id)
    assert raised.value.notice.kind is NoticeKind.CONVERSATION_FROM_NEWER_VERSION
    assert "newer version" in str(raised.value)
    assert store.list_conversations() == []
    assert _index_ids(store) == set()
    with pytest.raises(ConversationNotFoundError):
        store.open(document.id)


def test_ids_cannot_reach_outside_the_folder(store: ConversationStore) -> None:
    for bad in ("../settings", "a/b", "", ".hidden", "x" * 200):
        with pytest.raises(ConversationNotFoundError):
            store.open(bad)
    with pytest.raises(ValueError, match="not a conversation id"):
        ConversationDocument(id="../../etc/passwd")


def test_rename(store: ConversationStore) -> None:
    document = make_document(3, title="old")
    store.save(document)
    store.rename(document.id, "  New   title ")
    assert store.open(document.id).title == "New title"
    assert store.summary(document.id).display_title == "New title"
    assert ConversationStore(store.folder).summary(document.id).title == "New title"


def test_rename_of_a_live_conversation_goes_through_its_autosaver(
    store: ConversationStore,
) -> None:
    document = make_document(3, title="live")

    async def scenario() -> None:
        autosaver = Autosaver(store, document)
        autosaver.mark_changed()
        await autosaver.flush()
        store.rename(document.id, "")
        assert store.summary(document.id).display_title == document.preview  # untitled again
        store.rename(document.id, "renamed while talking")
        assert store.summary(document.id).title == "renamed while talking"
        with pytest.raises(ConversationInUseError):
            store.delete(document.id)
        await until(lambda: document.title == "renamed while talking")
        await autosaver.close()

    asyncio.run(scenario())
    assert store.open(document.id).title == "renamed while talking"
    store.delete(document.id)  # closed: no longer live


def test_delete_moves_to_the_trash_and_restore_brings_it_back(store: ConversationStore) -> None:
    document = with_recording(make_document(3))
    store.save(document)
    recordings = store.recordings_dir(document.id)
    recordings.mkdir(parents=True)
    (recordings / document.recordings[0].microphone).write_bytes(b"RIFF")
    store.delete(document.id)
    assert store.list_conversations() == []
    assert not store.document_path(document.id).exists()
    assert not recordings.exists()
    assert (store.trash_folder / f"{document.id}.json").exists()
    assert (
        store.trash_folder / "recordings" / document.id / "20261121-101500-microphone.wav"
    ).exists()
    assert [e.id for e in store.deleted()] == [document.id]
    with pytest.raises(ConversationNotFoundError):
        store.delete(document.id)

    store.restore(document.id)
    assert [e.id for e in store.list_conversations()] == [document.id]
    assert (recordings / "20261121-101500-microphone.wav").read_bytes() == b"RIFF"
    assert store.deleted() == []

    store.delete(document.id)
    assert store.empty_trash() == 1
    assert not store.trash_folder.exists()
    assert store.deleted() == []


def test_no_audio_is_stored_unless_recording_is_on(store: ConversationStore) -> None:
    document = make_document(6)  # spoken items, no recordings
    store.save(document)
    assert not (store.folder / "recordings").exists()
    raw = store.document_path(document.id).read_text()
    assert json.loads(raw)["recordings"] == []
    assert all(set(item) <= set(ConversationItem.model_fields) for item in json.loads(raw)["items"])
    recorded = with_recording(make_document(3, seed=2))
    store.save(recorded)
    assert (
        json.loads(store.document_path(recorded.id).read_text())["recordings"][0]["microphone"]
        == "20261121-101500-microphone.wav"
    )
    assert store.recordings_dir(recorded.id).parent.name == "recordings"


def test_leftover_temporary_files_are_swept(store: ConversationStore) -> None:
    document = make_document(2)
    store.save(document)
    old = store.folder / f".{document.id}.json.abc123.tmp"
    young = store.folder / f".{document.id}.json.def456.tmp"
    old.write_bytes(b'{"half": ')
    young.write_bytes(b'{"half": ')
    aged = os.stat(old).st_mtime - STALE_TEMP_AGE_S - 1
    os.utime(old, (aged, aged))
    ConversationStore(store.folder).refresh()
    assert not old.exists()
    assert young.exists()  # might belong to a write in progress elsewhere


def test_export_writes_each_format(store: ConversationStore, tmp_path: Path) -> None:
    document = make_document(6, title="Exported")
    store.save(document)
    for export_format, suffix in (("markdown", "md"), ("text", "txt"), ("json", "json")):
        target = tmp_path / f"out.{suffix}"
        store.export(document.id, export_format, target)  # type: ignore[arg-type]
        assert "Exported" in target.read_text()
    assert (
        ConversationDocument.model_validate_json((tmp_path / "out.json").read_bytes()) == document
    )


def test_async_methods(store: ConversationStore, tmp_path: Path) -> None:
    document = make_document(3)

    async def scenario() -> None:
        await store.save_async(document)
        assert (await store.open_async(document.id)) == document
        await store.export_async(document.id, "text", tmp_path / "a.txt")
        await store.rename_async(document.id, "Renamed  off the loop")
        await store.refresh_async()
        [listed] = await store.list_conversations_async("renamed")
        assert listed.title == "Renamed off the loop"
        [hit] = await store.search_async("weather")
        assert hit.summary.id == document.id
        await store.delete_async(document.id)
        assert [entry.id for entry in await store.deleted_async()] == [document.id]
        assert (await store.restore_async(document.id)).id == document.id
        await store.delete_async(document.id)
        assert await store.empty_trash_async() == 1

    asyncio.run(scenario())
    assert store.list_conversations() == []
    assert store.deleted() == []
    assert (tmp_path / "a.txt").exists()
