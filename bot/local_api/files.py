"""Stored files: uploads from the bot and media sent by simulated users, served by getFile."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from bot.local_api.errors import bad_request

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files, as Telegram does

_EXTENSIONS = {"photo": "jpg", "voice": "oga", "sticker": "webp", "document": "bin"}


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # photo | document | voice | sticker
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int:
        return len(self.data)

    def photo_sizes(self) -> list[dict[str, object]]:
        return [{"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                 "file_size": self.size, "width": self.width, "height": self.height}]

    def document(self) -> dict[str, object]:
        doc: dict[str, object] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                                  "file_size": self.size}
        if self.file_name:
            doc["file_name"] = self.file_name
        if self.mime_type:
            doc["mime_type"] = self.mime_type
        return doc

    def telegram_file(self) -> dict[str, object]:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                "file_size": self.size, "file_path": self.file_path}


@dataclass
class FileStore:
    bot_id: int
    _by_id: dict[str, StoredFile] = field(default_factory=dict)
    _by_path: dict[str, StoredFile] = field(default_factory=dict)
    _counter: int = 0

    def add(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        limit = MAX_PHOTO_BYTES if kind == "photo" else MAX_UPLOAD_BYTES
        if len(data) > limit:
            raise bad_request("file is too big")
        if kind == "photo" and not data:
            raise bad_request("IMAGE_PROCESS_FAILED")
        self._counter += 1
        digest = hashlib.sha256(data).hexdigest()
        # Telegram's ids are opaque; make them look similar and stay unique per upload.
        file_id = f"LOC{kind[:2].upper()}{self.bot_id}_{self._counter}_{digest[:16]}"
        unique = f"U{digest[:15]}"
        ext = _EXTENSIONS.get(kind, "bin")
        if kind == "document" and file_name and "." in file_name:
            ext = file_name.rsplit(".", 1)[1][:8]
        path = f"{kind}s/file_{self._counter}.{ext}"
        width, height = image_size(data) if kind == "photo" else (0, 0)
        stored = StoredFile(file_id, unique, kind, data, path, file_name, mime_type, width, height)
        self._by_id[file_id] = stored
        self._by_path[path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile:
        stored = self._by_id.get(file_id)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored

    def by_path(self, path: str) -> StoredFile | None:
        return self._by_path.get(path)


def image_size(data: bytes) -> tuple[int, int]:
    """Width/height of PNG, GIF or JPEG bytes; (0, 0) if unknown (tests send any bytes)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                break
            marker = data[i + 1]
            seg_len = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + seg_len
    return 0, 0
