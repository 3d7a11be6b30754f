"""Typed results of the matching engine (they cross the CLI and HTTP boundaries as JSON)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Edits(BaseModel):
    """What was done to the reference to give the copy.

    Coordinates are in full-size reference pixels; angles in degrees, counter-clockwise as seen.
    """

    model_config = ConfigDict(frozen=True)

    crop_box: tuple[int, int, int, int] = Field(
        description="The visible part of the reference, [x0, y0, x1, y1] in reference pixels (x1, y1 exclusive)."
    )
    coverage: float = Field(ge=0, le=1, description="Share of the reference's area that is visible in the copy.")
    scale: float = Field(gt=0, description="Copy pixels per reference pixel.")
    rotation_deg: float = Field(description="Rotation of the copy, degrees counter-clockwise as seen.")
    mirrored: bool = Field(description="The copy is mirrored left-right.")
    greyscale: bool = Field(description="The copy is grey while the reference has colour.")
    overlay_fraction: float = Field(ge=0, le=1, description="Share of the visible picture covered by an overlay.")
    stretch: float = Field(
        default=1.0, ge=1, description="Ratio of the copy's largest to smallest axis scale (1 = not stretched)."
    )


class Match(BaseModel):
    """A verified match of a query to one reference."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The reference id.")
    score: float = Field(ge=0, le=1, description="Confidence from 0 to 1 (geometric and photometric evidence).")
    edits: Edits
    inliers: int = Field(ge=0, description="Local features that agree with the alignment.")
    log10_nfa: float = Field(description="log10 of the expected number of false alarms of the alignment.")


class QueryResult(BaseModel):
    """The answer for one query: its matches, best first, or the error that stopped it."""

    query: str
    matches: list[Match] | None = None
    error: str | None = None

    def to_json_line(self) -> str:
        """One line of JSON: `{"query", "matches"}` or `{"query", "error"}`."""
        if self.error is not None:
            return self.model_dump_json(include={"query", "error"})
        return self.model_dump_json(include={"query", "matches"})


class ReferenceInfo(BaseModel):
    """What `list` shows about a reference."""

    model_config = ConfigDict(frozen=True)

    id: str
    width: int
    height: int
    fingerprint_version: int
    added_at: str
    source: str | None = None
