"""The on-disk gallery of protected people whose likeness must not appear in a shot.

One JSON file per person in the gallery folder (written atomically): the name, the
embedder that made the embeddings and its dimension, the embeddings themselves, and for
each source photo its path and sha256, and the date it was added. A gallery holds the
embeddings of one embedder: switching embedder means re-enrolling (the photos are named).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field

from reelgate.errors import ConfigError, InputError
from reelgate.files import write_json
from reelgate.media import read_image_rgb
from reelgate.settings import SafetySettings
from safety.faces import FaceDetector
from safety.frames import SampledFrame
from safety.likeness import FaceEmbedder

MIN_FACE_PX = 40  # narrower faces give unstable embeddings (dlib's ResNet sees 150x150 chips)
DEFAULT_MAX_PIXELS = SafetySettings.model_fields["max_image_pixels"].default


class SourceImage(BaseModel):
    path: str = Field(description="Where the photo was when it was enrolled.")
    sha256: str


class Person(BaseModel):
    """One protected person: one embedding per enrolled photo."""

    name: str
    embedder: str = Field(description="Name of the embedder that made the embeddings (dlib, facenet).")
    dim: int
    embeddings: list[list[float]]
    sources: list[SourceImage]
    added: datetime


def _file_name(name: str) -> str:
    # Readable where the name allows it; the hash keeps "A B" and "A_B" apart.
    slug = re.sub(r"[^\w-]+", "_", name).strip("_")[:60] or "person"
    return f"{slug}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}.json"


class Gallery:
    """A folder of enrolled people. `add` creates the folder; everything else needs it to exist.

    max_image_pixels: the largest photo `add` decodes (settings safety.max_image_pixels).
    """

    def __init__(self, folder: Path, max_image_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.folder = Path(folder)
        self.max_image_pixels = max_image_pixels

    def _require_folder(self) -> None:
        if not self.folder.is_dir():
            raise InputError(
                f"gallery folder {self.folder} does not exist; enrol someone first "
                "(reelgate gallery add NAME PHOTO...) or point --gallery / REELGATE_SAFETY__GALLERY_DIR at the gallery"
            )

    @property
    def people(self) -> list[Person]:
        """Everyone enrolled, read from disk, sorted by name."""
        self._require_folder()
        people = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                people.append(Person.model_validate_json(path.read_text(encoding="utf-8")))
            except ValueError as exc:
                raise InputError(f"gallery file {path} is malformed ({exc}); remove it and re-enrol") from exc
        return sorted(people, key=lambda p: p.name)

    def list(self) -> list[Person]:
        return self.people

    def _find(self, name: str) -> Person | None:
        path = self.folder / _file_name(name)
        return Person.model_validate_json(path.read_text(encoding="utf-8")) if path.is_file() else None

    def add(
        self, name: str, images: list[Path], detector: FaceDetector, embedder: FaceEmbedder, min_confidence: float = 0.9
    ) -> Person:
        """Enrol `name` from photos with exactly one clear face each (adds to a person already enrolled).

        Raises InputError/MediaError naming the photo and what to do; nothing is written then.
        """
        name = name.strip()
        if not name:
            raise InputError("a protected person needs a non-empty name")
        if not images:
            raise InputError(f"no photos given for {name!r}; give at least one photo of the face")
        if self.folder.is_dir():
            others = sorted({p.embedder for p in self.people if p.embedder != embedder.name})
            if others:
                raise InputError(
                    f"gallery {self.folder} holds {', '.join(others)} embeddings, embedder is {embedder.name}: "
                    f"re-enrol everyone with {embedder.name} in a new gallery folder, or use {others[0]}"
                )
        embeddings, sources = [], []
        for image_path in images:
            image_path = Path(image_path)
            if not image_path.is_file():
                raise InputError(f"photo {image_path} does not exist; check the path")
            # The pixel count is read from the header first: a forged 30000x30000 PNG is refused
            # before anything is decoded (REELGATE_SAFETY__MAX_IMAGE_PIXELS).
            data, rgb = read_image_rgb(image_path, self.max_image_pixels, "REELGATE_SAFETY__MAX_IMAGE_PIXELS")
            faces = detector.detect([SampledFrame(time_s=0.0, index=0, image=rgb)], min_confidence)
            if not faces:
                raise InputError(
                    f"no face found in {image_path}; use a photo where the face is clearly visible, "
                    f"at least ~80 px wide"
                )
            if len(faces) > 1:
                raise InputError(f"{len(faces)} faces in {image_path}; crop it to the person")
            box = faces[0].box
            if box[2] - box[0] < MIN_FACE_PX:
                raise InputError(
                    f"the face in {image_path} is only {box[2] - box[0]} px wide; use a photo where it is "
                    f"at least ~80 px wide"
                )
            embeddings.append([float(v) for v in embedder.embed(rgb, box)])
            sources.append(SourceImage(path=str(image_path.resolve()), sha256=hashlib.sha256(data).hexdigest()))

        existing = self._find(name) if self.folder.is_dir() else None
        if existing is not None:
            known = {s.sha256 for s in existing.sources}
            new = [(e, s) for e, s in zip(embeddings, sources) if s.sha256 not in known]
            person = existing.model_copy(
                update={
                    "embeddings": existing.embeddings + [e for e, _ in new],
                    "sources": existing.sources + [s for _, s in new],
                }
            )
        else:
            person = Person(
                name=name, embedder=embedder.name, dim=len(embeddings[0]), embeddings=embeddings,
                sources=sources, added=datetime.now(timezone.utc),
            )
        write_json(self.folder / _file_name(name), person)
        return person

    def remove(self, name: str) -> None:
        """Forget `name`; an unknown name raises InputError listing the known ones."""
        self._require_folder()
        path = self.folder / _file_name(name.strip())
        if not path.is_file():
            known = ", ".join(p.name for p in self.people) or "none"
            raise InputError(f"{name!r} is not in gallery {self.folder}; known names: {known}")
        path.unlink()



def check_gallery(settings: SafetySettings) -> str | None:
    """Fail closed on a gallery that was asked for but cannot be read; call before any work.

    A gallery that is required (safety.gallery_required: by default, whenever
    safety.gallery_dir was set) and is missing, not a folder, unreadable or holds a
    malformed file raises ConfigError naming the setting. One that is not required (the
    default <data_dir>/gallery) and is absent gives a note: there is no one to protect yet.
    Returns that note, or None when the gallery is there (or likeness is off).
    """
    if not settings.likeness:
        return None
    folder = Path(settings.gallery_dir) if settings.gallery_dir is not None else None
    required = bool(settings.gallery_required)
    setting = "safety.gallery_dir (REELGATE_SAFETY__GALLERY_DIR)"
    if folder is None or not folder.exists():
        if not required:
            return "likeness: no protected-people gallery (reelgate gallery add NAME IMAGE)"
        raise ConfigError(
            f"the protected-people gallery {folder} does not exist, so no face could be checked against it; "
            f"{setting} is set to it. Fix the path, enrol people there (reelgate gallery add NAME PHOTO... "
            "--gallery DIR), or unset it to use the default gallery"
        )
    if not folder.is_dir():
        problem = f"{folder} is not a folder"
    else:
        try:
            Gallery(folder).people  # lists the folder and parses every file
            return None
        except OSError as exc:
            problem = f"{folder} cannot be read ({exc.strerror or exc})"
        except InputError as exc:
            problem = str(exc)
    if not required:
        # The default folder is there but broken: likeness would fail on every shot; say so now.
        raise ConfigError(f"the protected-people gallery is unusable: {problem}; fix it or remove the folder")
    raise ConfigError(f"the protected-people gallery set in {setting} is unusable: {problem}; fix it or unset it")
