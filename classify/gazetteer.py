"""Gazetteer: Vietnam's administrative units before and after 1 July 2025, and finding them in text.

Data (``classify/data/gazetteer.json``, see ``classify/data/SOURCES.md``): the 34 provinces and
centrally-run cities after 1 July 2025 and their 3,321 communes, wards and special zones; the 63
provinces before, their 696 districts and 10,035 communes; which old province went into which new
one (Resolution 202/2025/QH15), which old communes into which new commune.

Unit codes: a current province is its slug (``vinh_long``, as in ``config/<province>.yaml``); an
old province ``tinh_cu:tra_vinh``; an old district ``huyen_cu:<GSO code>``; a current commune
``xa:<GSO code>``; an old commune ``xa_cu:<GSO code>``.

:meth:`Gazetteer.find` returns every place named in a text, resolved with its context:

* the written form: with diacritics (any tone-mark placement, NFC or NFD, any case), without
  diacritics (``Tra Vinh``; only for distinctive names or after a context word), English
  (``Tra Vinh province``, ``the Mekong Delta province of Ben Tre``, ``Ho Chi Minh City``),
  abbreviations (``TP.HCM``, ``TPHCM``, ``HCMC``, ``BR-VT``) and other names (``Sài Gòn``);
* the context word before it (tỉnh, thành phố/TP, huyện, quận, thị xã, phường, xã, đặc khu, thị
  trấn, province/city/district/commune/ward) and ``(cũ)``/``former`` after it choose the level:
  ``phường Trà Vinh`` is the ward of Vĩnh Long, ``tỉnh Trà Vinh (cũ)`` and a bare ``Trà Vinh`` the
  old province (now in Vĩnh Long), ``TP Trà Vinh`` the old provincial city;
* a name several provinces share (``huyện Châu Thành``, ``xã Tân An``) is resolved by the address
  after it (``huyện Châu Thành, tỉnh Trà Vinh``, ``Châu Thành (Bến Tre)``), else by the only one of
  its provinces the text names elsewhere; otherwise it stays ambiguous (``province_code`` None);
* a context word before a list carries over: ``các xã Long Hồ, Phú Quới và Thạnh Quới``,
  ``xã Long Thạnh và Châu Hưng`` (but ``xã A, B, C`` is an address: commune, district, province);
* a bare name must be capitalised (``hòa bình`` is "peace") and not part of a longer proper name:
  a person's (``ông Thành Công``, ``Nguyễn Thành Công``), a street, company or school
  (``đường Nguyễn Huệ``, ``Công ty Vĩnh Long``, ``Vĩnh Long Hãng``) or ``Thái Bình Dương``;
* a bare local name that is also a common word, a person's name, a newspaper, a historic
  province or a Chinese city (``Long Hồ``, ``Thành Công``, ``Tiền Phong``, ``Hà Tây``, ``Quảng
  Châu``) needs a context word; other bare commune and rural-district names come back with
  ``weak=True`` (count only where the text names their province too), while old provincial
  cities and towns (``Nha Trang``, ``Cam Ranh``, ``Vũng Tàu``) count on their own;
* a bare province-level name that is also a common word (``Hòa Bình``, ``Thái Bình``) comes back
  ``weak``; ``Hồ Chí Minh`` alone (the President) is not a place without ``TP``/``thành phố``.

Matching runs one Aho–Corasick automaton (pyahocorasick) over the document's match key; without
pyahocorasick a dictionary of first words stands in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from classify.text import PLAIN_TABLE, KeyedText, match_key, plain_key

__all__ = ["LEVELS", "Gazetteer", "PlaceMatch", "Unit", "DATA_PATH"]

DATA_PATH = Path(__file__).resolve().parent / "data" / "gazetteer.json"

LEVELS = ("province", "province_old", "district_old", "commune", "commune_old")
_LEVEL_VI = {
    "province": "tỉnh/thành phố",
    "province_old": "tỉnh/thành phố cũ",
    "district_old": "huyện cũ",
    "commune": "xã/phường",
    "commune_old": "xã/phường cũ",
}


@dataclass(frozen=True, slots=True)
class Unit:
    """One administrative unit, current or old."""

    code: str
    gso: str
    level: str  # one of LEVELS
    type: str  # Tỉnh, Thành phố, Huyện, Quận, Thị xã, Phường, Xã, Đặc khu, Thị trấn
    name: str  # short name: "Trà Vinh"
    province_code: str  # the current province it lies in (itself for a current province)
    parent_code: str | None = None  # old province of an old district, old district of an old
    # commune, current province of a commune
    english: str = ""
    aliases: tuple[str, ...] = ()
    former: tuple[str, ...] = ()  # current province: codes of the old provinces merged into it
    old_districts: tuple[str, ...] = ()  # current commune: old districts it was formed from
    new_communes: tuple[str, ...] = ()  # old commune: current communes it went into

    @property
    def full_name(self) -> str:
        return f"{self.type} {self.name}"

    @property
    def is_old(self) -> bool:
        return self.level.endswith("_old")

    @property
    def label(self) -> str:
        """How a person reads it: "Phường Trà Vinh", "tỉnh Trà Vinh (cũ)"."""
        if self.level in ("province", "province_old"):
            base = f"{self.type.lower()} {self.name}"
        else:
            base = self.full_name
        return base + (" (cũ)" if self.is_old else "")


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """A place named in a text. Offsets are into the text as given (NFD included)."""

    surface: str  # the text as written, with its context word: "phường Trà Vinh"
    start: int
    end: int
    code: str | None  # unit code; None when the name stays ambiguous
    name: str  # the unit's full name ("Phường Trà Vinh"), or the name as read if ambiguous
    level: str  # province | province_old | district_old | commune | commune_old
    province_code: str | None  # current province; None when ambiguous
    is_old_name: bool  # the unit no longer exists (old province, district or commune)
    via: str  # "accented" (the key with diacritics matched) or "plain" (written without)
    qualifier: str | None = None  # context word seen: "tỉnh", "phường", "province", "TP", …
    ambiguous: bool = False
    candidates: tuple[str, ...] = ()  # other readings (codes): alternatives or, if ambiguous, all
    resolved_by: str = ""  # "tên", "từ chỉ cấp", "địa chỉ", "văn bản", "mặc định"
    weak: bool = False  # also a common word or person's name: counts little without context
    note: str = ""  # in Vietnamese: which unit this is and why


# ──────────────────────────────── context words ────────────────────────────────

_Q_CLASSES = {
    # class: (accented forms, plain-only forms)
    "prov": (("tỉnh",), ("tinh",)),
    "city": (("thành phố", "tp", "t.p", "tp.", "t.p."), ("thanh pho",)),
    "dist": (("huyện", "quận", "thị xã", "tx", "tx.", "h.", "q."), ("huyen", "quan", "thi xa")),
    "ward": (("phường", "p."), ("phuong",)),
    "comm": (("xã", "x."), ("xa",)),
    "zone": (("đặc khu",), ("dac khu",)),
    "town": (("thị trấn", "tt", "tt."), ("thi tran",)),
}
_Q_EN = {
    "province of": "prov",
    "city of": "city",
    "district of": "dist",
    "commune of": "comm",
    "ward of": "ward",
    "town of": "dist",
}
_SUFFIX_EN = {
    "province": "prov",
    "city": "city",
    "district": "dist",
    "town": "dist",
    "commune": "comm",
    "ward": "ward",
}
_Q_TYPE = {  # qualifier word → unit type it names
    "tp.": "Thành phố",
    "t.p.": "Thành phố",
    "tx.": "Thị xã",
    "tt.": "Thị trấn",
    "tỉnh": "Tỉnh",
    "tinh": "Tỉnh",
    "thành phố": "Thành phố",
    "thanh pho": "Thành phố",
    "tp": "Thành phố",
    "t.p": "Thành phố",
    "huyện": "Huyện",
    "huyen": "Huyện",
    "h.": "Huyện",
    "quận": "Quận",
    "quan": "Quận",
    "q.": "Quận",
    "thị xã": "Thị xã",
    "thi xa": "Thị xã",
    "tx": "Thị xã",
    "phường": "Phường",
    "phuong": "Phường",
    "p.": "Phường",
    "xã": "Xã",
    "xa": "Xã",
    "x.": "Xã",
    "đặc khu": "Đặc khu",
    "dac khu": "Đặc khu",
    "thị trấn": "Thị trấn",
    "thi tran": "Thị trấn",
    "tt": "Thị trấn",
}


def _alt(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


_ACC_Q = {w: c for c, (acc, _) in _Q_CLASSES.items() for w in acc}
_PLAIN_Q = {**_ACC_Q, **{w: c for c, (_, pl) in _Q_CLASSES.items() for w in pl}}
_ACC_Q_RE = re.compile(rf"(?:^|(?<=[^\w.]))(?P<q>{_alt(_ACC_Q)}|{_alt(_Q_EN)})\s*$")
_PLAIN_Q_RE = re.compile(rf"(?:^|(?<=[^\w.]))(?P<q>{_alt(_PLAIN_Q)}|{_alt(_Q_EN)})\s*$")
_FORMER_RE = re.compile(r"(?:^|(?<=\W))(?:the\s+)?former\s+(?:\w+\s+){0,3}$")
_OLD_AFTER = {
    "accented": re.compile(r"\s*(?:\(\s*(?:cũ|trước đây|former|old)\s*\)|cũ(?!\w))"),
    "plain": re.compile(r"\s*(?:\(\s*(?:cu|truoc day|former|old)\s*\)|cu(?!\w))"),
}
_EN_SUFFIX_RE = re.compile(rf"\s+(?P<s>{_alt(_SUFFIX_EN)})(?!\w)")


def _words(s: str) -> list[str]:
    return s.split()


# Words that make a following capitalised name a person's: honorifics and kin terms.
_HONORIFICS = frozenset(
    _words(
        "ông bà anh chị em cô chú bác cậu dì thím cháu cụ bé chàng nàng thầy "
        "mr mr. ms ms. mrs mrs. dr dr. hlv tên"
    )
)
# Vietnamese surnames and common middle names: "Nguyễn Thành Công", "Lê Văn Long Hồ".
_NAME_PARTS = frozenset(
    match_key(w)
    for w in _words(
        "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Lưu Trương Đinh "
        "Mai Cao Lâm Tô Trịnh Đoàn Vương Tạ Kiều Quách Lương Triệu Từ Lục Khúc Thạch Danh Lò "
        "Đào Chu Văn Thị Hữu Đức Ngọc Quốc Xuân Thu Công Đình Bá Trọng Khắc Như Kim Hồng Thế "
        "Tấn Duy Quang Viết Doãn Phùng Nông Hứa Âu Diệp Mạc Thân Tôn"
    )
)
# Capitalised words that may stand before a place name mid-sentence: "Báo Trà Vinh", "Mũi Cà Mau".
_NAME_HEADS = frozenset(
    match_key(w)
    for w in _words(
        "Báo Đài Sở Cục Hội Ban Đoàn Đảng Tỉnh Huyện Xã Phường Thành Quận Mũi Vịnh Cảng Chợ Cầu "
        "Sông Đảo Biển Sân Núi Hồ Đất Vùng Miền Khu Tại Ở Về Đến Từ Và Với"
    )
)
# Words before a name that make it a street, a company, a school, a market…, not the unit.
_ENTITY_HEADS = frozenset(
    match_key(w)
    for w in _words(
        "đường phố lộ ngõ hẻm ty đoàn trường thpt thcs chợ cầu sân bay bến ga hầm đèo sạn hàng "
        "báo clb tàu nghiệp viện trại số hiệu khu hội tiệm quán nhóm đội tổ"
    )
)
_TOP_ENTITY_HEADS = frozenset(_words("ty hãng hiệu sạn quán tiệm đường phố tàu thpt thcs"))
# Surnames that start street and person names ("Lý Thường Kiệt"), never a bare commune here.
_SURNAMES = frozenset(
    match_key(w)
    for w in _words(
        "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Ngô Lý Trương Đinh Trịnh Đoàn "
        "Lương Phùng Tôn Nông Triệu"
    )
)
# A list after a plural context word: "các xã A, B và C", "hai huyện A và B".
_LIST_Q_RE = re.compile(
    r"(?:^|(?<=\W))(?P<plural>(?:các|hai|ba|bốn|năm|sáu|bảy|tám|chín|mười|những|\d+|cac|bon|nhung)\s+)?"
    r"(?P<q>tỉnh, thành phố|tỉnh, thành|tỉnh thành|xã, phường|phường, xã|xã|phường|huyện|quận"
    r"|thị xã|tỉnh|thành phố"
    r"|xa|phuong|huyen|quan|tinh)\s+"
    r"(?:(?!\b(?:xã|phường|huyện|quận|tỉnh|thành phố|thị xã|tp|ông|bà|anh|chị)\b)[^.;:!?()]){1,80}?"
    r"(?P<sep>,|\svà|\shoặc|\sva)\s*$"
)
# Unaccented province names that are also common unaccented words ("da nang" = đa năng,
# "cao bang" = cao bằng): in lower case they need a context word.
_PLAIN_WEAK = frozenset(
    w.replace("_", " ")
    for w in _words(
        "da_nang cao_bang hai_duong binh_dinh long_an gia_lai ha_nam thanh_hoa phu_tho lam_dong "
        "dong_thap an_giang quang_nam son_la tay_ninh nam_dinh bac_ninh vinh_phuc hung_yen phu_yen "
        "hoa_binh thai_binh binh_duong ha_giang ha_tinh tien_giang hau_giang dien_bien"
    )
)
# Phrases that contain a place name but are not places.
_NOT_PLACES = ("Thái Bình Dương", "Thai Binh Duong", "Châu Á - Thái Bình Dương")
# Capitalised words that may follow a place name.
_FOLLOW_OK = frozenset(_words("province city district commune ward town delta region fc"))
_STOP_NEXT = {"thái bình": ("dương",), "thai binh": ("duong",)}

_LEADING_Q_RE = re.compile(rf"(?P<q>{_alt(_PLAIN_Q)})\s*(?=\S)")
_CAP_SPLIT = re.compile(r"[\s\-']+")


def _capitalised(surface: str) -> bool:
    if surface.isupper():
        return True
    for tok in _CAP_SPLIT.split(surface):
        if tok and not (tok[0].isupper() or tok[0].isdigit()):
            return False
    return True


@dataclass(slots=True)
class _Hit:
    ns: int  # name span in the key
    ne: int
    fs: int  # full span (with context words) in the key
    fe: int
    via: str
    qualifier: str | None
    cls: str | None
    old: bool
    cands: list[Unit]  # readings allowed by the context, preferred first
    chosen: list[Unit]
    weak: bool = False
    resolved_by: str = ""
    why: list[str] = field(default_factory=list)


class Gazetteer:
    """Administrative units and a matcher over them. Use :meth:`load` (cached)."""

    def __init__(self, data: dict) -> None:
        self.meta: dict = data["meta"]
        self.units: dict[str, Unit] = {}
        self._by_gso: dict[tuple[str, str], Unit] = {}
        prov_by_gso: dict[str, Unit] = {}
        for p in data["provinces"]:
            u = Unit(
                code=p["code"],
                gso=p["gso"],
                level="province",
                type=p["kind"],
                name=p["name"],
                province_code=p["code"],
                english=p["english"],
                aliases=tuple(p["aliases"]),
                former=tuple(p["former"]),
            )
            self._add(u)
            prov_by_gso[u.gso] = u
        old_by_gso: dict[str, Unit] = {}
        for p in data["provinces_old"]:
            u = Unit(
                code=p["code"],
                gso=p["gso"],
                level="province_old",
                type=p["kind"],
                name=p["name"],
                province_code=p["current"],
                english=p["english"],
                aliases=tuple(p["aliases"]),
            )
            self._add(u)
            old_by_gso[u.gso] = u
        for gso, typ, name, pgso, aliases in data["districts_old"]:
            parent = old_by_gso[pgso]
            self._add(
                Unit(
                    code=f"huyen_cu:{gso}",
                    gso=gso,
                    level="district_old",
                    type=typ,
                    name=name,
                    province_code=parent.province_code,
                    parent_code=parent.code,
                    aliases=tuple(aliases),
                )
            )
        for gso, typ, name, pgso, olds in data["communes"]:
            prov = prov_by_gso[pgso]
            self._add(
                Unit(
                    code=f"xa:{gso}",
                    gso=gso,
                    level="commune",
                    type=typ,
                    name=name,
                    province_code=prov.code,
                    parent_code=prov.code,
                    old_districts=tuple(f"huyen_cu:{d}" for d in olds),
                )
            )
        for gso, typ, name, dgso, news in data["communes_old"]:
            dist = self.units[f"huyen_cu:{dgso}"]
            self._add(
                Unit(
                    code=f"xa_cu:{gso}",
                    gso=gso,
                    level="commune_old",
                    type=typ,
                    name=name,
                    province_code=dist.province_code,
                    parent_code=dist.code,
                    new_communes=tuple(f"xa:{n}" for n in news),
                )
            )
        self._weak_prov = {match_key(n) for n in self.meta.get("weak_province_names", [])}
        self._weak_prov |= {plain_key(n) for n in self.meta.get("weak_province_names", [])}
        self._qual_only = {match_key(n) for n in self.meta.get("qualifier_only_names", [])}
        self._qual_only |= {plain_key(n) for n in self.meta.get("qualifier_only_names", [])}
        self._weak_local = {match_key(n) for n in self.meta.get("weak_local_names", [])}
        self._weak_local |= {plain_key(n) for n in self.meta.get("weak_local_names", [])}
        self._build_index()

    # ─────────────────────────── loading and lookup ───────────────────────────

    @classmethod
    def load(cls, path: str | Path | None = None) -> Gazetteer:
        """The gazetteer from the shipped data (cached: loaded once per process and path)."""
        return _load_cached(str(Path(path).resolve()) if path else str(DATA_PATH))

    def _add(self, u: Unit) -> None:
        self.units[u.code] = u

    def province(self, code: str) -> Unit:
        """A current province by code (``vinh_long``); KeyError if there is none."""
        u = self.units[code]
        if u.level != "province":
            raise KeyError(code)
        return u

    def unit(self, code: str) -> Unit:
        return self.units[code]

    @property
    def provinces(self) -> list[Unit]:
        return [u for u in self.units.values() if u.level == "province"]

    def of_level(self, level: str, province_code: str | None = None) -> list[Unit]:
        return [
            u
            for u in self.units.values()
            if u.level == level and (province_code is None or u.province_code == province_code)
        ]

    def former_provinces(self, code: str) -> list[Unit]:
        """The old provinces merged into current province ``code`` (itself included)."""
        return [self.units[c] for c in self.province(code).former]

    def old_province_of(self, u: Unit) -> Unit | None:
        """The old province a unit lay in (for old units and current communes, when known)."""
        if u.level == "province_old":
            return u
        if u.level == "district_old":
            return self.units[u.parent_code] if u.parent_code else None
        if u.level == "commune_old":
            return self.old_province_of(self.units[u.parent_code]) if u.parent_code else None
        if u.level == "commune" and u.old_districts:
            olds = {self.units[d].parent_code for d in u.old_districts}
            return self.units[olds.pop()] if len(olds) == 1 else None
        return None

    def lookup(self, name: str) -> list[Unit]:
        """Units with this name (context word allowed: "tỉnh Trà Vinh", "huyện Cầu Ngang")."""
        k = match_key(name)
        typ = None
        m = _LEADING_Q_RE.match(k)
        if m and (k[m.end() :] in self._by_key or plain_key(k[m.end() :]) in self._by_key):
            typ, k = _Q_TYPE.get(m.group("q")), k[m.end() :]
            name = k
        units = [self.units[c] for c, _via in self._by_key.get(k, ())]
        if not units:
            units = [self.units[c] for c, _via in self._by_key.get(plain_key(name), ())]
        if typ:
            typed = [u for u in units if u.type == typ]
            units = typed or units
        seen: dict[str, Unit] = {}
        for u in units:
            seen.setdefault(u.code, u)
        return sorted(seen.values(), key=lambda u: LEVELS.index(u.level))

    def current_province_of(self, old_name: str) -> Unit | None:
        """The current province that an old (or current) name now lies in: "Trà Vinh" → Vĩnh Long.

        Province names first (old and current, any written form), then districts and communes
        when all units of that name lie in one province; None when unknown or ambiguous.
        """
        units = self.lookup(old_name)
        if not units:
            return None
        top = [u for u in units if u.level in ("province", "province_old")]
        pool = top or units
        provs = {u.province_code for u in pool}
        return self.units[provs.pop()] if len(provs) == 1 else None

    # ─────────────────────────── index ───────────────────────────

    def _names_of(self, u: Unit) -> list[tuple[str, bool]]:
        """(written form, carries its own context word) for each name of a unit."""
        forms: list[str] = [u.name, *u.aliases]
        if u.english and plain_key(u.english) != plain_key(u.name) and u.english not in forms:
            forms.append(u.english)  # hand-written English names only: "Hanoi", "Hue"
        out: list[tuple[str, bool]] = []
        prefixed = u.level == "commune_old" or u.name.isdigit()
        for f in forms:
            variants = {f}
            if " - " in f:
                variants.add(f.replace(" - ", "-"))
                variants.add(f.replace(" - ", " "))
            for v in variants:
                if prefixed:
                    t = u.type.lower()
                    out.append((f"{t} {v}", True))
                    if u.name.isdigit():
                        short = {"phường": "p", "quận": "q", "xã": "x"}.get(t)
                        if short:
                            out += [(f"{short}.{v}", True), (f"{short}. {v}", True)]
                else:
                    out.append((v, False))
        return out

    def _build_index(self) -> None:
        by_key: dict[str, list[tuple[str, str]]] = {}
        self._prefix_len: dict[str, int] = {}
        keys: dict[str, tuple[str, str]] = {}  # written form → (match key, plain key)

        def key_of(form: str) -> tuple[str, str]:
            kk = keys.get(form)
            if kk is None:
                acc = match_key(form)
                kk = keys[form] = (acc, acc.translate(PLAIN_TABLE))
            return kk

        self._old_communes: dict[str, list[str]] = {}
        for u in self.units.values():
            if u.level == "commune_old":
                acc, pl = key_of(u.name)
                self._old_communes.setdefault(acc, []).append(u.code)
                if pl != acc:
                    self._old_communes.setdefault(pl, []).append(u.code)
            for form, prefixed in self._names_of(u):
                acc, pl = key_of(form)
                by_key.setdefault(acc, []).append((u.code, "accented"))
                if pl != acc:
                    by_key.setdefault(pl, []).append((u.code, "plain"))
                if prefixed:
                    n = len(acc) - len(key_of(u.name)[0])
                    self._prefix_len[acc] = n
                    self._prefix_len[pl] = n
        self._by_key = {k: tuple(dict.fromkeys(v)) for k, v in by_key.items()}
        self._block = {match_key(p) for p in _NOT_PLACES}
        for b in self._block:
            self._by_key.setdefault(b, ())
        try:
            import ahocorasick  # pyahocorasick

            auto = ahocorasick.Automaton()
            for k in self._by_key:
                auto.add_word(k, k)
            auto.make_automaton()
            self._auto = auto
            self._first: dict[str, list[str]] | None = None
        except ImportError:  # dictionary of first words
            self._auto = None
            first: dict[str, list[str]] = {}
            for k in self._by_key:
                first.setdefault(re.split(r"[\s.\-']", k, maxsplit=1)[0], []).append(k)
            self._first = first

    def _scan(self, key: str) -> Iterator[tuple[int, int, str]]:
        if self._auto is not None:
            for end, k in self._auto.iter(key):
                yield end - len(k) + 1, end + 1, k
            return
        assert self._first is not None
        for m in re.finditer(r"\w+", key):
            for k in self._first.get(m.group(), ()):
                if key.startswith(k, m.start()):
                    yield m.start(), m.start() + len(k), k

    # ─────────────────────────── matching ───────────────────────────

    def find(self, text: str) -> list[PlaceMatch]:
        """Every place named in ``text``, resolved with its context (see the module docstring)."""
        if not text:
            return []
        kt = KeyedText(text)
        key = kt.key
        groups: dict[tuple[int, int], list[tuple[str, str, str]]] = {}
        n = len(key)
        blocked: list[tuple[int, int]] = []
        for s, e, k in self._scan(key):
            if (s > 0 and key[s - 1].isalnum()) or (e < n and key[e].isalnum()):
                continue
            if k in self._block:
                blocked.append((s, e))
                continue
            plen = self._prefix_len.get(k, 0)
            ns = s + plen
            for code, via in self._by_key[k]:
                groups.setdefault((ns, e), []).append((code, via, k))
        hits: list[_Hit] = []
        for (ns, ne), entries in groups.items():
            if any(bs <= ns and ne <= be for bs, be in blocked):
                continue
            h = self._read(kt, ns, ne, entries)
            if h is not None:
                hits.append(h)
        # leftmost-longest, no overlaps (a longer name wins: "Bà Rịa - Vũng Tàu" over "Vũng Tàu")
        hits.sort(key=lambda h: (h.fs, -(h.fe - h.fs), -(h.ne - h.ns)))
        chosen: list[_Hit] = []
        last = -1
        for h in hits:
            if h.fs >= last:
                chosen.append(h)
                last = h.fe
        self._resolve_chains(key, chosen)
        self._resolve_by_document(chosen)
        return [self._to_match(kt, h) for h in chosen]

    def _read(
        self, kt: KeyedText, ns: int, ne: int, entries: list[tuple[str, str, str]]
    ) -> _Hit | None:
        key, text = kt.key, kt.text
        acc = [(c, k) for c, v, k in entries if v == "accented"]
        via = "accented" if acc else "plain"
        pool = acc or [(c, k) for c, v, k in entries if v == "plain"]
        units = list(dict.fromkeys(self.units[c] for c, _k in pool))
        name_key = key[ns:ne]
        extra = self._old_communes.get(name_key, ())
        os_, oe = kt.span(ns, ne)
        surface = text[os_:oe]

        # context before: a qualifier word (part of the key itself for "phường 4", "xã cũ …")
        qualifier = cls = None
        fs = ns
        pre = key[max(0, ns - 30) : ns]
        m = (_ACC_Q_RE if via == "accented" else _PLAIN_Q_RE).search(pre)
        if m:
            qualifier = m.group("q")
            cls = _PLAIN_Q.get(qualifier) or _Q_EN.get(qualifier)
            fs = ns - (len(pre) - m.start("q"))
        old = False
        fe = ne
        post = key[ne : ne + 30]
        m = _OLD_AFTER[via].match(post)
        if m:
            old = True
            fe = ne + m.end()
        elif _FORMER_RE.search(key[max(0, fs - 40) : fs]):
            old = True
        if cls is None:
            m = _EN_SUFFIX_RE.match(post)
            if m:
                cls = _SUFFIX_EN[m.group("s")]
                qualifier = m.group("s")
                fe = ne + m.end()
        if cls is None:
            # a list after a plural context word: "các xã Long Hồ, Phú Quới và Thạnh Quới"
            m = _LIST_Q_RE.search(key[max(0, ns - 120) : ns])
            # "các xã A, B và C", "xã A và B"; but "xã Thanh Phú, Bình Long, Bình Phước" is an
            # address (commune, district, province), not a list
            if m and not m.group("plural"):
                span = m.string[m.end("q") : m.end()]
                if m.group("sep") == "," or "," in span:
                    m = None
            if m:
                qualifier = m.group("q")
                cls = _PLAIN_Q.get(qualifier.split(",")[0].split(" thành")[0]) or "comm"

        # a bare name must read as a proper name
        bare = cls is None
        if bare and self._inside_longer_name(text, os_, via):
            return None
        stop = _STOP_NEXT.get(name_key)
        if stop and re.match(rf"\s+(?:{'|'.join(stop)})(?!\w)", post):
            return None

        if cls in ("comm", "ward", "town", "zone") and extra:
            units = list(dict.fromkeys([*units, *(self.units[c] for c in extra)]))
        h = _Hit(ns, ne, fs, fe, via, qualifier, cls, old, [], [])
        typ = _Q_TYPE.get(qualifier or "") if qualifier else None
        cands = self._candidates(units, cls, typ, old)
        if not cands:
            return None
        h.cands = cands
        levels = {u.level for u in cands}
        top = [u for u in cands if u.level in ("province", "province_old")]
        if bare:
            caps = _capitalised(surface)
            one_word = " " not in name_key and "-" not in name_key
            if top:
                if name_key in self._qual_only:
                    return None
                if via == "plain":
                    # unaccented social posts write "tra vinh": distinctive names only
                    if not caps and (one_word or name_key in _PLAIN_WEAK):
                        return None
                    h.weak = one_word  # "Hue": little on its own
                elif not caps:
                    return None  # "hòa bình" is peace
                elif self._followed_by_name(text, oe):
                    return None  # "Vĩnh Long Hãng" (a company)
                if self._entity_context(text, os_, _TOP_ENTITY_HEADS):
                    return None  # "Công ty Vĩnh Long", "khách sạn Sài Gòn"
                h.weak = h.weak or name_key in self._weak_prov
            else:
                if not caps or name_key in self._weak_local:
                    return None
                if via == "plain" and one_word:
                    return None
                if via == "accented" and self._followed_by_name(text, oe):
                    return None
                towns = [u for u in cands if u.level == "district_old" and u.type != "Huyện"]
                if not towns:
                    if self._entity_context(text, os_):
                        return None  # "đường Nguyễn Huệ", "Công ty … Phú Nhuận", "trường THPT …"
                    if name_key.split(" ", 1)[0] in _SURNAMES:
                        return None  # "Lý Thường Kiệt", "Trần Hưng Đạo": streets, people
                    # a bare commune or rural district name: counts with support only
                    h.weak = True
        h.chosen = self._prefer(cands, bare)
        if not h.chosen:
            return None
        if len({u.province_code for u in h.chosen}) == 1:
            if not bare or old:
                h.resolved_by = "từ chỉ cấp"
            else:
                h.resolved_by = "tên" if len(levels) == 1 else "mặc định"
        return h

    @staticmethod
    def _inside_longer_name(text: str, os_: int, via: str) -> bool:
        """A bare name that is part of a person's name or of a longer proper name.

        "ông Thành Công", "Nguyễn Thành Công", "Thái Bình Dương" (mid-sentence); but not "Tại
        Trà Vinh" (sentence start), "UBND Trà Vinh" (acronym), "Báo Trà Vinh", "Mũi Cà Mau".
        """
        window = text[max(0, os_ - 60) : os_]
        m = re.search(r"(\S+)\s+$", window)
        if not m:
            return False
        prev = m.group(1)
        if prev[-1:] in ",.;:!?()[]\"“”'–—-…":
            return False
        pk = match_key(prev)
        if pk in _HONORIFICS:
            return True
        if via != "accented" or not prev[:1].isupper():
            return False
        if pk in _NAME_PARTS:
            return True
        if prev.isupper() or pk in _NAME_HEADS:
            return False
        before = window[: m.start()].rstrip()
        return bool(before) and before[-1] not in '.!?:;…"“”([-–—'

    @staticmethod
    def _entity_context(text: str, os_: int, heads: frozenset[str] | None = None) -> bool:
        m = re.search(r"(\S+)\s+$", text[max(0, os_ - 40) : os_])
        return bool(m) and match_key(m.group(1)) in (heads or _ENTITY_HEADS)

    @staticmethod
    def _followed_by_name(text: str, oe: int) -> bool:
        m = re.match(r" +(\w[\w']*)", text[oe : oe + 40])
        if not m:
            return False
        nxt = m.group(1)
        return nxt[:1].isupper() and not nxt.isupper() and nxt.lower() not in _FOLLOW_OK

    @staticmethod
    def _candidates(units: list[Unit], cls: str | None, typ: str | None, old: bool) -> list[Unit]:
        """Readings the context allows, preferred first."""

        def by_type(us: list[Unit]) -> list[Unit]:
            if typ:
                same = [u for u in us if u.type == typ]
                return same + [u for u in us if u.type != typ]
            return us

        lv: dict[str, list[Unit]] = {}
        for u in units:
            lv.setdefault(u.level, []).append(u)
        prov, prov_old = lv.get("province", []), lv.get("province_old", [])
        dist, comm, comm_old = (lv.get(k, []) for k in ("district_old", "commune", "commune_old"))
        if cls == "prov":
            return prov_old if old else prov + prov_old
        if cls == "city":
            top = [u for u in (prov_old if old else prov + prov_old) if u.type == "Thành phố"]
            cities = [u for u in dist if u.type == "Thành phố"]
            return top + cities + [u for u in dist if u.type != "Thành phố"]
        if cls == "dist":
            return by_type(dist)
        if cls in ("ward", "comm", "zone"):
            cur = [u for u in comm if not typ or u.type == typ]
            past = [u for u in comm_old if not typ or u.type == typ]
            rest = [u for u in comm + comm_old if u not in cur and u not in past]
            return past + cur + rest if old else cur + past + rest
        if cls == "town":
            return [u for u in comm_old if u.type == "Thị trấn"] + comm + dist
        # bare name
        if old:
            return prov_old + dist
        if prov or prov_old:
            return prov + prov_old + dist + comm
        return dist + comm

    @staticmethod
    def _prefer(cands: list[Unit], bare: bool) -> list[Unit]:
        """The reading chosen among the candidates: the first level present, all its units."""
        if not cands:
            return []
        first = cands[0]
        if first.level in ("province", "province_old"):
            return [first]
        if bare:
            # bare local name: old districts before communes, all units of that level
            for level in ("district_old", "commune"):
                same = [u for u in cands if u.level == level]
                if same:
                    if len({u.province_code for u in cands}) == 1:
                        return same[:1]
                    return same
            return []
        same = [u for u in cands if u.level == first.level and u.type == first.type]
        return same

    # ─────────────────────────── disambiguation ───────────────────────────

    def _in_scope(self, u: Unit, parent: Unit) -> bool:
        if parent.level == "province":
            return u.province_code == parent.code and u.code != parent.code
        if parent.level == "province_old":
            if u.level == "district_old":
                return u.parent_code == parent.code
            if u.level == "commune_old":
                return self.units[u.parent_code].parent_code == parent.code
            if u.level == "commune":
                if u.old_districts:
                    return any(self.units[d].parent_code == parent.code for d in u.old_districts)
                return u.province_code == parent.province_code
            return False
        if parent.level == "district_old":
            if u.level == "commune":
                return parent.code in u.old_districts
            if u.level == "commune_old":
                return u.parent_code == parent.code
        return False

    @staticmethod
    def _ambiguous(h: _Hit) -> bool:
        return len({u.province_code for u in h.chosen}) != 1

    def _resolve_chains(self, key: str, hits: list[_Hit]) -> None:
        """ "xã Tân An, huyện Cần Đước, tỉnh Long An": the unit after a name narrows it.

        An ambiguous name takes the reading inside the next unit of its address; a resolved one
        that the address contradicts ("xã Châu Hưng, huyện Vĩnh Lợi (Bạc Liêu)": not Vĩnh
        Long's Châu Hưng) takes another reading inside it, where there is one.
        """
        link = re.compile(r"\s*[,(\-]?\s*(?:(?:thuộc|của|thuoc|cua|in|of)\s+)?\(?\s*")
        rank = {lv: i for i, lv in enumerate(LEVELS)}
        rank["province_old"] = rank["province"]
        rank["commune_old"] = rank["commune"]
        sep = re.compile(r"\s*(?:,|và|hoặc|va|and|or)\s*")
        for i in range(len(hits) - 2, -1, -1):
            h = hits[i]
            level = min(rank[u.level] for u in h.chosen)
            # skip siblings of a list: "xã Long Thạnh và Châu Hưng, huyện Vĩnh Lợi"
            prev, j = h, i + 1
            while (
                j < len(hits) - 1
                and min(rank[u.level] for u in hits[j].chosen) == level
                and sep.fullmatch(key[prev.fe : hits[j].fs])
            ):
                prev, j = hits[j], j + 1
            nxt = hits[j]
            if self._ambiguous(nxt):
                continue
            parent = nxt.chosen[0]
            if rank[parent.level] >= level:
                continue  # "TPHCM, Sài Gòn": a list, not an address
            gap = key[prev.fe : nxt.fs]
            if len(gap) > 12 or not link.fullmatch(gap):
                continue
            if not self._ambiguous(h) and self._in_scope(h.chosen[0], parent):
                continue
            scoped = [u for u in h.cands if self._in_scope(u, parent)]
            if not scoped:
                continue
            pick = self._prefer(scoped, h.cls is None)
            if pick and len({u.province_code for u in pick}) == 1:
                h.chosen = pick[:1]
                h.resolved_by = "địa chỉ"
                h.weak = False
                h.why.append(f"theo địa chỉ: {self._label_of(parent)}")

    def _resolve_by_document(self, hits: list[_Hit]) -> None:
        """An ambiguous name whose candidates lie in only one province the text names elsewhere."""
        sure = [h.chosen[0] for h in hits if not self._ambiguous(h) and not h.weak]
        provs = {u.province_code for u in sure}
        olds = {o.code for o in (self.old_province_of(u) for u in sure) if o is not None}
        for h in hits:
            if not self._ambiguous(h):
                continue
            inside = [u for u in h.chosen if u.province_code in provs]
            if len({u.province_code for u in inside}) != 1:
                continue
            # "huyện Châu Thành" in a text about Trà Vinh: Trà Vinh's, not Bến Tre's
            named = [u for u in inside if (o := self.old_province_of(u)) and o.code in olds]
            h.chosen = (named or inside)[:1]
            h.resolved_by = "văn bản"

    # ─────────────────────────── output ───────────────────────────

    def _label_of(self, u: Unit) -> str:
        if u.level == "province_old":
            now = self.units[u.province_code]
            if now.name == u.name:
                return f"{u.label}"
            return f"{u.label}, nay thuộc {now.label}"
        if u.level == "province":
            return u.label
        prov = self.units[u.province_code]
        if u.level == "district_old":
            return f"{u.label}, {self.units[u.parent_code].label}, nay thuộc {prov.label}"
        if u.level == "commune_old":
            dist = self.units[u.parent_code]
            return f"{u.label}, {dist.full_name} (cũ), nay thuộc {prov.label}"
        return f"{u.full_name}, {prov.label}"

    def _to_match(self, kt: KeyedText, h: _Hit) -> PlaceMatch:
        start, end = kt.span(h.fs, h.fe)
        surface = kt.text[start:end]
        name_surface = kt.text[slice(*kt.span(h.ns, h.ne))]
        if self._ambiguous(h):
            provs = sorted({self.units[u.province_code].name for u in h.chosen})
            level = h.chosen[0].level
            return PlaceMatch(
                surface=surface,
                start=start,
                end=end,
                code=None,
                name=f"{h.chosen[0].type} {h.chosen[0].name}" if h.cls else name_surface,
                level=level,
                province_code=None,
                is_old_name=level.endswith("_old"),
                via=h.via,
                qualifier=h.qualifier,
                ambiguous=True,
                candidates=tuple(u.code for u in h.chosen),
                resolved_by="",
                weak=h.weak,
                note=(
                    f"“{name_surface}” ({_LEVEL_VI[level]}) có ở nhiều tỉnh "
                    f"({', '.join(provs[:6])}{'…' if len(provs) > 6 else ''}): chưa rõ đơn vị nào"
                ),
            )
        u = h.chosen[0]
        alts = tuple(c.code for c in h.cands if c.code != u.code and c.level != u.level)
        note = f"“{name_surface}”: {self._label_of(u)}"
        others = [
            o
            for o in (self.units[c] for c in alts)
            if not (o.level == "province_old" and u.level == "province" and o.name == u.name)
        ]
        if h.resolved_by == "mặc định" and others:
            same = [o for o in others if o.province_code == u.province_code]
            if same:
                note += "; cũng là tên " + ", ".join(o.full_name for o in same[:2])
        elif h.cls and u.level in ("commune", "district_old", "commune_old"):
            tops = [o for o in others if o.level == "province_old"]
            if tops:
                note += f" (không phải {tops[0].label})"
        if h.resolved_by == "văn bản":
            note += " (theo tỉnh được nêu trong bài)"
        note += "".join(f"; {w}" for w in h.why if w not in note)
        return PlaceMatch(
            surface=surface,
            start=start,
            end=end,
            code=u.code,
            name=u.full_name,
            level=u.level,
            province_code=u.province_code,
            is_old_name=u.is_old,
            via=h.via,
            qualifier=h.qualifier,
            ambiguous=False,
            candidates=alts,
            resolved_by=h.resolved_by or "tên",
            weak=h.weak,
            note=note,
        )


@lru_cache(maxsize=4)
def _load_cached(path: str) -> Gazetteer:
    with open(path, encoding="utf-8") as f:
        return Gazetteer(json.load(f))
