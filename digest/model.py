"""What one day's digest says, before it is rendered: plain dataclasses, no store objects.

`digest.select` fills them from the store, `digest.render` turns them into HTML, text and DOCX.
Codes stay codes here (tone ``tieu_cuc``, topic ``iuu``); the ``*_vi`` properties give the
Vietnamese labels a reader sees.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime

from store.taxonomy import CHANNEL_VI, LEVEL_VI, MISLEADING_VI, TONE_VI, TOPIC_VI

CHANNELS = tuple(CHANNEL_VI)
UNLABELLED = "chua_phan_loai"
UNLABELLED_VI = "Chưa phân loại"
STATUS_VI = {
    "moi": "Mới",
    "dang_xu_ly": "Đang xử lý",
    "da_xu_ly": "Đã xử lý",
    "bo_qua": "Bỏ qua",
}
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")

# Section codes, in the order the digest prints them.
SECTION_HANDLING = "can_xu_ly"
SECTION_POSITIVE = "tich_cuc"
SECTION_TITLES = {
    SECTION_HANDLING: "Thông tin cần xử lý",
    "press_central": "Báo chí Trung ương",
    "press_local": "Báo chí địa phương",
    "press_foreign": "Báo chí nước ngoài",
    "social": "Mạng xã hội",
    SECTION_POSITIVE: "Thông tin tích cực cần lan tỏa",
}
EMPTY_TEXT = "Không có tin."


@dataclass
class Link:
    """One outlet's copy of a story: its name and, when it is http(s), its address."""

    outlet: str
    url: str | None


@dataclass
class Entry:
    """One story in the digest (all its copies in the window), with the labels in force."""

    story_id: int | None
    item_ids: list[int]
    title: str
    outlets: list[str]  # outlet titles, first to carry it first
    outlet_count: int
    time: datetime  # first publication in the window, in the digest's time zone
    url: str | None  # the representative copy's address (http/https only, else None)
    summary: str
    tone: str | None  # tich_cuc | trung_lap | tieu_cuc; None when unlabelled
    topics: list[str] = field(default_factory=list)  # codes, most probable first
    places: list[str] = field(default_factory=list)
    sensitivity: str | None = None  # binh_thuong | can_chu_y | nhay_cam
    misleading: str = "khong"  # khong | chua_kiem_chung | sai_lech
    misleading_note: str = ""  # the evidence, one short line
    handling: str | None = None  # proposed handling (đề xuất)
    status: str | None = None  # follow-up status where an officer set one
    channel: str = "press_local"
    # Beyond the brief, used for ranking and rendering.
    links: list[Link] = field(default_factory=list)
    item_count: int = 1
    weight: float = 1.0  # the highest source weight among its outlets
    reasons: list[str] = field(default_factory=list)  # why sensitive (classifier's words)
    handling_by_officer: bool = False
    decided_by: str | None = None  # the officer whose decision is in force
    note: str | None = None  # the officer's note
    labelled: bool = True
    dismissed: bool = False
    ref: str = ""  # "II.3": where the entry is printed (section 6 points back to it)
    rank: int | None = None  # the desk's place in its section (1 first); None: by severity

    @property
    def needs_handling(self) -> bool:
        if self.dismissed or self.status == "bo_qua" or not self.labelled:
            return False
        return (
            self.sensitivity in ("nhay_cam", "can_chu_y")
            or self.tone == "tieu_cuc"
            or self.misleading in ("chua_kiem_chung", "sai_lech")
        )

    @property
    def positive(self) -> bool:
        return self.tone == "tich_cuc" and not self.needs_handling

    @property
    def severity(self) -> tuple[int, int, int]:
        """Larger is more serious: (worst of sensitivity/misleading, their sum, negative)."""
        sens = {"nhay_cam": 2, "can_chu_y": 1}.get(self.sensitivity or "", 0)
        mis = {"sai_lech": 2, "chua_kiem_chung": 1}.get(self.misleading, 0)
        return (max(sens, mis), sens + mis, int(self.tone == "tieu_cuc"))

    @property
    def tone_vi(self) -> str:
        return TONE_VI.get(self.tone or "", UNLABELLED_VI)

    @property
    def topics_vi(self) -> list[str]:
        return [TOPIC_VI.get(t, t) for t in self.topics]

    @property
    def sensitivity_vi(self) -> str:
        return LEVEL_VI.get(self.sensitivity or "", "")

    @property
    def misleading_vi(self) -> str:
        return MISLEADING_VI.get(self.misleading, self.misleading)

    @property
    def status_vi(self) -> str:
        return STATUS_VI.get(self.status or "", self.status or "")

    @property
    def channel_vi(self) -> str:
        return CHANNEL_VI.get(self.channel, self.channel)


@dataclass
class Section:
    code: str
    title: str
    entries: list[Entry] = field(default_factory=list)
    empty_text: str = EMPTY_TEXT
    numeral: str = ""  # "I" … "VI"

    @property
    def heading(self) -> str:
        return f"{self.numeral}. {self.title}" if self.numeral else self.title

    @property
    def common_handling(self) -> str | None:
        """The proposed handling every entry shares (section 6 then says it once)."""
        texts = {e.handling for e in self.entries}
        return texts.pop() if len(texts) == 1 and self.entries else None

    @property
    def brief(self) -> bool:
        """Section 6 lists its stories briefly, pointing back to where they are printed."""
        return self.code == SECTION_POSITIVE


@dataclass
class Count:
    """One line of the header's counts: today, the day before, and the 7-day average."""

    code: str
    label: str
    today: int
    previous: int
    avg7: float

    @property
    def delta_previous(self) -> int:
        return self.today - self.previous

    @property
    def delta_avg7(self) -> float:
        return round(self.today - self.avg7, 1)


@dataclass
class DayCounts:
    """Item counts for one digest day (its 07:00 → 07:00 window), for the chart."""

    day: date
    tone: dict[str, int]
    channel: dict[str, int]
    total: int


@dataclass
class DigestData:
    agency: str
    province: str
    number: int
    day: date
    window_start: datetime  # in the digest's time zone
    window_end: datetime
    counts_tone: list[Count] = field(default_factory=list)
    counts_channel: list[Count] = field(default_factory=list)
    total: Count | None = None
    stories: int = 0
    notices: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    unlabelled: bool = False
    unlabelled_count: int = 0  # items in the window without a classification
    unlabelled_text: str = ""
    chart_png: bytes | None = None
    history: list[DayCounts] = field(default_factory=list)  # 7 days, oldest first
    profile_name: str = ""
    timezone: str = "Asia/Ho_Chi_Minh"
    built_at: datetime | None = None
    # Header of the DOCX (Vietnamese administrative style).
    agency_lines: list[str] = field(default_factory=list)  # left header, upper case
    code: str = "ĐT"  # "Số: 12/ĐT-SVHTTDL" → code "ĐT-SVHTTDL"
    place: str = ""  # "Vĩnh Long, ngày …"
    signer_title: str = ""
    signer_name: str = ""
    recipients_note: list[str] = field(default_factory=list)  # "Nơi nhận"
    warnings: list[str] = field(default_factory=list)  # for the operator, not the reader
    newest_item: int = 0  # the highest item id in the window when built (later ones came after)

    @property
    def counts(self) -> dict:
        """Compact counts for the Digest row (and the periodic report)."""
        return {
            "items": self.total.today if self.total else 0,
            "stories": self.stories,
            "tone": {c.code: c.today for c in self.counts_tone},
            "channel": {c.code: c.today for c in self.counts_channel},
            "sections": {s.code: len(s.entries) for s in self.sections},
            "unlabelled": self.unlabelled_count,
            "notices": len(self.notices),
        }

    def section(self, code: str) -> Section:
        return next(s for s in self.sections if s.code == code)

    @property
    def entries(self) -> list[Entry]:
        """Every printed entry once (section 6 repeats none)."""
        return [e for s in self.sections if not s.brief for e in s.entries]


# ── the model as JSON (archived beside the rendered files; the desk reads it back) ─────────

JSON_VERSION = 1


def _entry_dict(e: Entry) -> dict:
    out = {f.name: getattr(e, f.name) for f in fields(Entry)}
    out["time"] = e.time.isoformat()
    out["links"] = [[link.outlet, link.url] for link in e.links]
    return out


def _entry(d: dict) -> Entry:
    d = dict(d)
    d["time"] = datetime.fromisoformat(d["time"])
    d["links"] = [Link(outlet, url) for outlet, url in d.get("links") or []]
    return Entry(**{k: v for k, v in d.items() if k in _ENTRY_FIELDS})


def _count(d: dict | None) -> Count | None:
    return Count(**d) if d else None


def to_json(data: DigestData) -> str:
    """Everything the digest says but its chart: the printed entries once, section VI by ref."""
    head = {
        f.name: getattr(data, f.name)
        for f in fields(DigestData)
        if f.name
        not in ("sections", "chart_png", "counts_tone", "counts_channel", "total", "history")
    }
    head["day"] = data.day.isoformat()
    for name in ("window_start", "window_end", "built_at"):
        value = getattr(data, name)
        head[name] = value.isoformat() if value else None
    head["counts_tone"] = [asdict(c) for c in data.counts_tone]
    head["counts_channel"] = [asdict(c) for c in data.counts_channel]
    head["total"] = asdict(data.total) if data.total else None
    head["history"] = [{**asdict(h), "day": h.day.isoformat()} for h in data.history]
    head["sections"] = [
        {
            "code": s.code,
            "title": s.title,
            "empty_text": s.empty_text,
            "numeral": s.numeral,
            "entries": [e.ref for e in s.entries]
            if s.brief
            else [_entry_dict(e) for e in s.entries],
        }
        for s in data.sections
    ]
    return json.dumps({"version": JSON_VERSION, "digest": head}, ensure_ascii=False)


def from_json(text: str) -> DigestData:
    """The DigestData `to_json` wrote (no chart); ValueError when it is not one."""
    try:
        doc = json.loads(text)
        if doc.get("version") != JSON_VERSION:
            raise ValueError(f"unknown version {doc.get('version')!r}")
        d = dict(doc["digest"])
        d["day"] = date.fromisoformat(d["day"])
        for name in ("window_start", "window_end", "built_at"):
            d[name] = datetime.fromisoformat(d[name]) if d.get(name) else None
        d["counts_tone"] = [Count(**c) for c in d.get("counts_tone") or []]
        d["counts_channel"] = [Count(**c) for c in d.get("counts_channel") or []]
        d["total"] = _count(d.get("total"))
        d["history"] = [
            DayCounts(**{**h, "day": date.fromisoformat(h["day"])}) for h in d.get("history") or []
        ]
        sections: list[Section] = []
        by_ref: dict[str, Entry] = {}
        for s in d.pop("sections"):
            section = Section(
                code=s["code"], title=s["title"], empty_text=s["empty_text"], numeral=s["numeral"]
            )
            if section.brief:
                section.entries = [by_ref[ref] for ref in s["entries"] if ref in by_ref]
            else:
                section.entries = [_entry(e) for e in s["entries"]]
                by_ref.update((e.ref, e) for e in section.entries)
            sections.append(section)
        d["sections"] = sections
        return DigestData(**{k: v for k, v in d.items() if k in _DATA_FIELDS})
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a digest model: {exc}") from exc


_ENTRY_FIELDS = {f.name for f in fields(Entry)}
_DATA_FIELDS = {f.name for f in fields(DigestData)}
