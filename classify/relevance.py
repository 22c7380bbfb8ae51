"""Relevance: is an item about the province, or does it only name it in passing?

An item is relevant when it is about the province: places inside it (its communes and wards, its
old districts, its old provinces), its authorities, its people, its products. It is not relevant
when the name appears only in passing: a list of provinces, a football club or a match venue, a
person's home town or address in a biography or a court report, the dateline of a story about
something else, or a story mostly about another province.

Each place mention found by the gazetteer gets a weight:

* level: a province-level name 1.0; a commune, ward or old district 1.3 (local units count
  strongly); a name that is also a common word ("Hòa Bình") 0.3; a name resolved only by the rest
  of the text ("huyện Châu Thành" in an article about Trà Vinh) half; an ambiguous name nothing;
* where: title ×3, lead (first paragraph, at most ~2 sentences) ×2, body ×1;
* passing mentions: a list of three or more provinces ×0.15 (two, in an item about all 34 or 63
  provinces or in an open list: "An Giang took Kien Giang, etc."), a sports club or venue ×0.1
  (in an item whose title names the club, every bare mention of it), a home town or address in a
  biography ×0.15, a dateline ×0.3, a place passed through on the way elsewhere ("via Vinh Long",
  "đi ngang qua Vĩnh Long") ×0.15, a hashtag at the end of a post ×0.3;
* a hashtag inside a sentence (``in #VinhLong``) reads as the name it spells; a bare old district
  name after "ở/tại/in/at" (``vỡ đê ở Cầu Ngang``) reads as the place, with no need for support;
* repeats of the same unit decay (×0.6 each), distinct units add up.

The province's total ``T`` gives ``1 - 2^(-T/1.5)`` (0.5 at ``T = 1.5``: one mention in the
title, one in the lead, or two distinct mentions in the body), lowered when another province
clearly dominates the text or the text names many provinces evenly. ``relevant`` is
``score >= 0.5``. Reasons are in Vietnamese, for the officers.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace

from classify.gazetteer import Gazetteer, PlaceMatch
from classify.text import match_key

__all__ = ["Mention", "PlaceRef", "Relevance", "relevance", "THRESHOLD"]

THRESHOLD = 0.5

_PART_WEIGHT = {"title": 3.0, "lead": 2.0, "body": 1.0}
_LEVEL_WEIGHT = {
    "province": 1.0,
    "province_old": 1.0,
    "district_old": 1.3,
    "commune": 1.3,
    "commune_old": 1.3,
}
_PASSING_WEIGHT = {
    "danh_sach": 0.15,
    "the_thao": 0.1,
    "tieu_su": 0.15,
    "dateline": 0.3,
    "di_qua": 0.15,
    "the_tag": 0.3,
}
_PASSING_VI = {
    "danh_sach": "nằm trong danh sách nhiều tỉnh",
    "the_thao": "là tên đội bóng hoặc sân thi đấu",
    "tieu_su": "là quê quán, nơi sinh hoặc nơi ở của một người",
    "dateline": "chỉ là địa danh ghi ở đầu bài",
    "di_qua": "chỉ là nơi đi ngang qua trên đường đến nơi khác",
    "the_tag": "chỉ là thẻ (hashtag) gắn cuối bài",
}
_REPEAT_DECAY = 0.6
_LOCATIVE_NOTE = "đứng sau “ở/tại”: đọc là địa danh"
_HALF_AT = 1.5
_LOCAL = ("district_old", "commune", "commune_old")
_TOP = ("province", "province_old")


@dataclass(frozen=True, slots=True)
class Mention:
    """One place mention and how much it counts."""

    part: str  # title | lead | body
    match: PlaceMatch
    weight: float  # level × part × passing factors (before repeats decay)
    passing: str | None = None  # danh_sach | the_thao | tieu_su | dateline | di_qua | the_tag


@dataclass(frozen=True, slots=True)
class PlaceRef:
    """A unit of the province that the item names (new units, and old ones where named so)."""

    code: str
    name: str
    level: str
    is_old: bool
    province_code: str
    mentions: int
    named: bool = True  # False for the current province added because an old unit was named


@dataclass(frozen=True)
class Relevance:
    province_code: str
    score: float
    relevant: bool
    places: tuple[PlaceRef, ...]
    reasons: tuple[str, ...]
    mentions: tuple[Mention, ...] = ()
    other_provinces: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready: score, decision, places and reasons (what the store keeps)."""
        return {
            "province_code": self.province_code,
            "score": round(self.score, 3),
            "relevant": self.relevant,
            "places": [asdict(p) for p in self.places],
            "reasons": list(self.reasons),
        }


# ───────────────────────────── context patterns (on match keys) ─────────────────────────────

_BIO_RE = re.compile(
    r"(?:\bsinh(?: ra)?(?: năm \d{4}| ngày [\d/]+)?(?: và lớn lên)?(?: tại| ở)?"
    r"|\bsn \d{4}"
    r"|\bquê(?: quán| gốc| nhà| hương| mẹ| cha| ngoại| nội)?(?: ở| tại)?"
    r"|\bnguyên quán|\bgốc(?: gác)?(?: ở| tại)?|\blà người"
    r"|\b(?:cư trú|thường trú|tạm trú|hộ khẩu(?: thường trú)?|hktt|trú|ngụ|nhà ở)(?: tại| ở)?"
    r"|\bborn(?: and raised)? in|\bnative of|\bhails? from|\bhometown(?: of)?)"
    r"\s*:?\s*$"
)
_BIO_TRIGGER = re.compile(
    r"\b(?:sinh|sn \d{4}|quê|nguyên quán|gốc|là người|cư trú|thường trú|tạm trú|hộ khẩu|hktt"
    r"|trú|ngụ|born|native of|hails? from|hometown)\b"
)
_SPORT_STRONG = re.compile(
    r"\b(?:clb|câu lạc bộ|đội bóng|đội tuyển|fc|v-league|v\.league|vleague|hạng nhất|hạng nhì"
    r"|sân vận động|svđ|trên sân|sân nhà|tỷ số|tỉ số|ghi bàn|bàn thắng|hlv|huấn luyện viên"
    r"|tiền đạo|thủ môn|hậu vệ|tiền vệ|vòng đấu|lượt trận|giải bóng|bóng đá|futsal|sân khách"
    r"|mùa giải|derby|football|soccer|stadium|league|striker|goalkeeper|fixtures?"
    r"|away (?:game|match)|home (?:game|match))\b"
)
_SPORT_WEAK = re.compile(
    r"\b(?:trận|thắng|thua|hòa|gặp|tiếp đón|làm khách|vòng \d+|hiệp|đội|giải|club|match|beat)\b"
)
_SCORE_RE = re.compile(r"(?<![\d/.:])\d{1,2}\s*-\s*\d{1,2}(?![\d/.:])")
_MANY_PROVINCES_RE = re.compile(
    r"\b(?:\d+|các|nhiều|những)\s+(?:tỉnh|địa phương)(?:,?\s*(?:thành phố|thành))?\b"
    r"|\b(?:tỉnh|tỉnh thành),\s*thành phố\b|\bprovinces\b"
)
# an item about the whole country's provinces: "34 tỉnh, thành phố", "Vietnam's 34 new provinces"
_NATIONAL_RE = re.compile(
    r"\b(?:34|63|ba mươi tư|sáu mươi ba)\s+(?:[^\W\d_]+\s+){0,2}?"
    r"(?:tỉnh|provinces|provincial|đơn vị hành chính cấp tỉnh)"
)
# an open-ended enumeration: "An Giang took Kien Giang, etc."
_OPEN_LIST_RE = re.compile(r"\b(?:etc|v\.\s?v|vv|vân vân|and so on|and more|and others)\b")

# a place passed through on the way elsewhere: "via Vinh Long", "đi ngang qua Vĩnh Long",
# "trên đường đi Cần Thơ qua Vĩnh Long", "từ Sài Gòn về Cần Thơ qua Vĩnh Long"; not "đoạn qua",
# nor a road or line that "đi qua" the province (that is the province's own news)
_TRANSIT_BEFORE = re.compile(
    r"(?:\b(?:via|by way of|en route (?:through|via|past)|transit(?:ing)?(?: through| via| in)?"
    r"|passing(?: through| by)?|pass(?:es|ed)? (?:through|by)"
    r"|(?:driv|rid|cycl|travell?|walk|go|head)(?:e|es|ing|ed|s)? (?:through|past))"
    r"|\bngang qua|\bquá cảnh(?: qua| tại| ở)?"
    r"|\btrên đường (?:đi|về|xuống|lên|ra|vào|tới|đến|sang)\s[^.;!?]{0,40}?(?<!thông)\s"
    r"(?:ghé |đi |chạy )?qua"
    # "từ Sài Gòn về Cần Thơ qua …", but not "từ đầu năm đến nay, (thông) qua …"
    r"|\btừ\s[^.;!?,]{1,40}?\s(?:đi|về|xuống|lên|ra|vào|tới|đến|sang)\s"
    r"(?!nay\b|năm\b|tháng\b|ngày\b|\d)[^.;!?,]{1,40}?(?<!thông)\s(?:đi |chạy )?qua)"
    r"\s*$"
)
_TRANSIT_AFTER = re.compile(
    r"\s*(?:on (?:the|my|our|their|his|her) way(?! to (?:becom|recover|success|growth))"
    r"|en route|along the way|trên đường (?:đi|về|xuống|lên|ra|tới|đến|sang))\b"
)
# something happens there (a storm, an accident) or it is about a road or line built there
_TRANSIT_EVENT = re.compile(
    r"\b(?:bão|áp thấp|lũ|triều cường|mưa|giông|lốc|sạt lở|tai nạn|va chạm|lật|cháy|chết|tử vong"
    r"|bị thương|bắt giữ|dự án|thi công|xây dựng|khởi công|cao tốc|đường sắt|đường dây|tuyến đường"
    r"|storms?|typhoon|cyclone|flood\w*|rain\w*|accidents?|crash\w*|collid\w*|killed|injured"
    r"|arrested|projects?|construction|expressway|railway|power line)\b"
)
_CHAIN_SEP = re.compile(r"\s*(?:,|\(|\)|và|hoặc|and|or|then|rồi)?\s*(?:\(|\))?\s*")
_LOCATIVE_RE = re.compile(r"\b(?:ở|tại|in|at)\s*$")
# "#VinhLong", "#TraVinh": a hashtag spelling a place in CamelCase
_HASHTAG_RE = re.compile(r"(?<![\w#])#(\w+)")
_DATELINE_HEAD = re.compile(r"\s*(?:\([^()\n]{2,40}\)\s*[-–—:]?\s*)?")
_DATELINE_TAIL = re.compile(
    r"(?:\s*,\s*(?:vietnam|việt nam))?"
    r"(?:\s*,?\s*(?:ngày\s*)?\d{1,2}\s*/\s*\d{1,2}(?:\s*/\s*\d{2,4})?)?"
    r"\s*(?:\([^()\n]{2,40}\))?\s*[-–—:]\s"
)

_ABBREV = re.compile(
    r"(?:\b(?:TP|Tp|tp|TX|Tx|TT|P|Q|H|X|TS|ThS|PGS|GS|BS|Mr|Ms|Mrs|Dr|St|Co|Ltd|Inc|Jr|U\.S|No)"
    r"|\b[A-ZĐ])$"
)
_SENT_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|\s*[\r\n]+\s*")


def _sentence_starts(text: str) -> list[int]:
    """Offsets where sentences start (a light splitter that keeps offsets)."""
    starts = [0]
    for m in _SENT_END.finditer(text):
        if m.group()[:1] == "." and _ABBREV.search(text[max(0, m.start() - 4) : m.start()]):
            continue
        starts.append(m.end())
    return starts


def _lead_end(text: str) -> int:
    """End of the lead: the first paragraph, at most the first two sentences (~450 chars)."""
    body = text.lstrip()
    off = len(text) - len(body)
    m = re.search(r"\S\s*[\r\n]", body[60:]) if len(body) > 60 else None
    para_end = off + (60 + m.start() + 1 if m else len(body))
    starts = [s for s in _sentence_starts(text) if s > off + 20]
    two = starts[1] if len(starts) > 1 else len(text)
    return min(para_end, two, off + 450) if para_end - off > 40 else min(two, off + 450)


@dataclass(slots=True)
class _Doc:
    text: str
    matches: list[PlaceMatch]
    starts: list[int]
    national: bool = False  # the item is about all the provinces (its title says 34 or 63)
    clubs: frozenset[str] = frozenset()  # units the title names as a sports club
    sport: bool = False  # the title is about a match, a club or a league

    def sentence(self, pos: int) -> tuple[int, int]:
        i = bisect_right(self.starts, pos) - 1
        start = self.starts[i]
        end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
        return start, end


def _is_list(doc: _Doc, m: PlaceMatch) -> bool:
    if m.level not in _TOP:
        return False
    s, e = doc.sentence(m.start)
    provs = {
        x.province_code
        for x in doc.matches
        if s <= x.start < e and x.level in _TOP and x.province_code and not x.ambiguous
    }
    if len(provs) >= 3:
        return True
    if len(provs) < 2:
        return False
    # two provinces: a list where the sentence or the item says so ("các tỉnh", "34 provinces",
    # "…, etc.")
    sent = match_key(doc.text[s:e])
    return doc.national or any(
        r.search(sent) for r in (_MANY_PROVINCES_RE, _NATIONAL_RE, _OPEN_LIST_RE)
    )


def _sport_cues(sent_text: str) -> tuple[int, int, bool]:
    sent = match_key(sent_text)
    strong = len(set(_SPORT_STRONG.findall(sent)))
    weak = len(set(_SPORT_WEAK.findall(sent)))
    return strong, weak, bool(_SCORE_RE.search(sent_text))


def _is_sport(doc: _Doc, m: PlaceMatch) -> bool:
    if m.qualifier and m.qualifier not in ("tp", "tp.", "city"):
        return False  # "tỉnh Vĩnh Long tổ chức giải bóng đá": the province's own news
    if m.code is not None and m.code in doc.clubs:
        return True  # the title names it as a club ("Bàn chuyện đội bóng Vĩnh Long")
    s, e = doc.sentence(m.start)
    strong, weak, score = _sport_cues(doc.text[s:e])
    before = match_key(doc.text[max(s, m.start - 25) : m.start])
    after = match_key(doc.text[m.end : m.end + 8])
    team = bool(
        re.search(r"\b(?:clb|đội(?: bóng| tuyển)?|fc|xskt|câu lạc bộ|club)\s*$", before)
        or re.match(r"fc\b", after)
    )
    if doc.sport and (strong or score):
        return True  # in a sports item, one cue is enough
    return team or strong >= 1 and (strong + weak + score) >= 2 or (score and weak >= 1)


def _is_transit(doc: _Doc, m: PlaceMatch) -> bool:
    """A place passed through on the way elsewhere: "via Vinh Long", "đi ngang qua Vĩnh Long"."""
    s, e = doc.sentence(m.start)
    if _TRANSIT_EVENT.search(match_key(doc.text[s:e])):
        return (
            False  # "bão đi ngang qua …", "xe khách … qua Vĩnh Long thì bị lật": it happened there
        )
    # walk back over a chain of places: "via Vinh Long and Tra Vinh", "qua xã A, tỉnh B"
    first = m
    for x in sorted(doc.matches, key=lambda x: -x.start):
        if x.start < s or x.end > first.start:
            continue
        if not _CHAIN_SEP.fullmatch(match_key(doc.text[x.end : first.start])):
            break
        first = x
    if _TRANSIT_BEFORE.search(match_key(doc.text[max(s, first.start - 90) : first.start])):
        return True
    return bool(_TRANSIT_AFTER.match(match_key(doc.text[m.end : min(e, m.end + 30)])))


def _is_tag(doc: _Doc, m: PlaceMatch) -> bool:
    """A hashtag at the end of a post, among the tags only ("… đẹp lắm #CaMau #VinhLong")."""
    if not m.surface.startswith("#"):
        return False
    rest = re.sub(r"#\w+", " ", doc.text[m.end :])
    return not re.search(r"[^\W\d_]", rest)


def _hashtags(gz: Gazetteer, text: str, found: list[PlaceMatch]) -> list[PlaceMatch]:
    """Places spelled as CamelCase hashtags (``#VinhLong``, ``#TraVinh``), read as the name."""
    out = []
    for h in _HASHTAG_RE.finditer(text):
        if any(x.start < h.end() and h.start() < x.end for x in found):
            continue  # "#Huế": the gazetteer already read it
        tag = h.group(1)
        words, cur = [], ""
        for ch in tag:
            if ch.isupper() and cur:
                words.append(cur)
                cur = ""
            cur += ch
        words.append(cur)
        if len(words) < 2 or not all(w[:1].isupper() for w in words):
            continue
        phrase = " ".join(words)
        ms = gz.find(phrase)
        if len(ms) == 1 and ms[0].start == 0 and ms[0].end == len(phrase):
            note = ms[0].note.replace(_q(ms[0].surface), _q(h.group()), 1)
            out.append(replace(ms[0], surface=h.group(), start=h.start(), end=h.end(), note=note))
    return out


def _is_bio(doc: _Doc, m: PlaceMatch) -> bool:
    s, _e = doc.sentence(m.start)
    before = match_key(doc.text[max(s, m.start - 100) : m.start])
    if _BIO_RE.search(before):
        return True
    # "ngụ xã Long Đức, huyện Long Hồ, tỉnh Vĩnh Long": an address chain after the trigger
    triggers = list(_BIO_TRIGGER.finditer(before))
    if not triggers:
        return False
    last = triggers[-1]
    between = before[last.end() :]
    if len(between) > 80 or re.search(r"[.;:!?]", between):
        return False
    # only places (and commas, "tại", "ở") between the trigger and this mention
    rest = between
    for x in doc.matches:
        if s <= x.start < m.start and x.end <= m.start:
            rest = rest.replace(match_key(x.surface), " ")
    return not re.search(r"[^\W\d_]{2,}", re.sub(r"\b(?:tại|ở|tai|o|tổ|ấp|khóm|số)\b", " ", rest))


def _is_dateline(doc: _Doc, m: PlaceMatch) -> bool:
    head = _DATELINE_HEAD.match(doc.text)
    if not head or m.start != head.end() or m.start > 60:
        return False
    return bool(_DATELINE_TAIL.match(doc.text, m.end))


def _unit_weight(m: PlaceMatch) -> float:
    if m.ambiguous or m.province_code is None:
        return 0.0
    w = _LEVEL_WEIGHT[m.level]
    if not m.qualifier and m.level in _LOCAL:
        w *= 0.8  # a bare local name; one with no support elsewhere is cut further below
    if m.weak and m.level in _TOP:
        w *= 0.3
    if m.resolved_by == "văn bản":
        w *= 0.5
    return w


def _mentions(doc: _Doc, part_of) -> list[Mention]:
    out = []
    for m in doc.matches:
        part = part_of(m)
        passing = None
        if (
            m.weak
            and m.level == "district_old"
            and not m.qualifier
            and _LOCATIVE_RE.search(match_key(doc.text[max(0, m.start - 12) : m.start]))
        ):
            # "vỡ đê ở Cầu Ngang": after "ở/tại" the old district name reads as the place
            m = replace(m, weak=False, note=f"{m.note}; {_LOCATIVE_NOTE}")
        if _is_tag(doc, m):
            passing = "the_tag"
        elif part != "title":
            if _is_dateline(doc, m):
                passing = "dateline"
            elif _is_bio(doc, m):
                passing = "tieu_su"
        if passing is None and _is_transit(doc, m):
            passing = "di_qua"
        if passing is None and _is_list(doc, m):
            passing = "danh_sach"
        if passing is None and _is_sport(doc, m):
            passing = "the_thao"
        w = _unit_weight(m) * _PART_WEIGHT[part]
        if passing:
            w *= _PASSING_WEIGHT[passing]
        out.append(Mention(part=part, match=m, weight=w, passing=passing))
    return out


def _total(mentions: list[Mention]) -> float:
    by_unit: dict[str, list[float]] = defaultdict(list)
    for x in mentions:
        if x.weight > 0:
            by_unit[x.match.code or x.match.name].append(x.weight)
    total = 0.0
    for ws in by_unit.values():
        ws.sort(reverse=True)
        total += sum(w * _REPEAT_DECAY**i for i, w in enumerate(ws))
    return total


def _find(gz: Gazetteer, text: str) -> list[PlaceMatch]:
    found = gz.find(text)
    tags = _hashtags(gz, text, found) if "#" in text else []
    return sorted(found + tags, key=lambda m: m.start) if tags else found


def _q(s: str) -> str:
    return f"“{s}”"


def relevance(
    title: str,
    text: str,
    province_code: str,
    *,
    gazetteer: Gazetteer | None = None,
    language: str = "vi",
) -> Relevance:
    """How much ``title`` + ``text`` is about province ``province_code`` (e.g. ``vinh_long``).

    ``gazetteer`` defaults to :meth:`Gazetteer.load` (cached). ``language`` ("vi", "en") is the
    item's language as recorded; the Vietnamese and English context patterns (biographies,
    sports, datelines, "province of …") are always both applied, since Vietnamese items quote
    English names and English items use Vietnamese place names.
    """
    gz = gazetteer or Gazetteer.load()
    try:
        target = gz.province(province_code)
    except KeyError:
        raise ValueError(f"unknown current province code: {province_code!r}") from None
    title, text = title or "", text or ""

    lead_end = _lead_end(text)
    national = bool(_NATIONAL_RE.search(match_key(title or text[:lead_end])))
    strong, weak, score = _sport_cues(title)
    tdoc = _Doc(title, _find(gz, title), [0], national=national)
    title_mentions = _mentions(tdoc, lambda m: "title")
    clubs = frozenset(
        x.match.code for x in title_mentions if x.passing == "the_thao" and x.match.code
    )
    sport = bool(clubs) or strong >= 1 and (strong + weak + score) >= 2
    bdoc = _Doc(text, _find(gz, text), _sentence_starts(text), national, clubs, sport)
    mentions = title_mentions + _mentions(bdoc, lambda m: "lead" if m.start < lead_end else "body")

    by_prov: dict[str, list[Mention]] = defaultdict(list)
    for x in mentions:
        if x.match.province_code:
            by_prov[x.match.province_code].append(x)
    # a bare commune or rural district name counts only where something else names its province
    for p, ms in by_prov.items():
        supported = any(x.weight > 0 and not x.passing and not x.match.weak for x in ms)
        if not supported:
            by_prov[p] = [
                Mention(x.part, x.match, x.weight * 0.25, x.passing)
                if x.match.weak and x.match.level in _LOCAL
                else x
                for x in ms
            ]
    mine = by_prov.get(province_code, [])
    total = _total(mine)
    others = {p: _total(ms) for p, ms in by_prov.items() if p != province_code}
    others = {p: w for p, w in others.items() if w > 0}

    reasons: list[str] = []
    score = 1.0 - 2.0 ** (-total / _HALF_AT) if total > 0 else 0.0

    # another province dominates, or many provinces are named evenly
    if others:
        top_code, top_w = max(others.items(), key=lambda kv: kv[1])
        if top_w > total:
            ratio = total / (total + top_w)
            factor = min(1.0, 0.4 + 1.2 * ratio)
            if factor < 1.0 and total > 0:
                score *= factor
                reasons.append(f"Bài chủ yếu nói về {gz.province(top_code).label}")
        named = len(others) + (1 if total > 0 else 0)
        if named >= 8 and total > 0:
            ws = sorted(others.values())
            median = ws[len(ws) // 2]
            if total <= 1.5 * median:
                score *= 0.3
                reasons.append(f"Bài nêu {named} tỉnh, thành, không riêng {target.label}")

    # why, in Vietnamese
    good = [x for x in mine if x.weight > 0 and not x.passing]
    if national and any(x.passing == "danh_sach" for x in mine):
        reasons.append(f"Bài nói về các tỉnh, thành cả nước, không riêng {target.label}")
    if not mine:
        reasons.insert(0, f"Không nêu địa danh nào thuộc {target.label}")
    for x in mine:
        m = x.match
        if x.part == "title" and not x.passing:
            reasons.append(f"Tiêu đề nêu {_q(m.surface)}: {m.note.split(': ', 1)[-1]}")
        elif x.part == "lead" and not x.passing and x.weight > 0:
            reasons.append(f"Phần mở đầu nêu {_q(m.surface)}")
    locals_ = {x.match.code for x in good if x.match.level in _LOCAL}
    if locals_:
        names = [gz.unit(c).label for c in sorted(locals_)]
        reasons.append(
            f"Nêu {len(locals_)} đơn vị cấp xã/huyện của tỉnh: {', '.join(names[:5])}"
            + ("…" if len(names) > 5 else "")
        )
    distinct = {x.match.code for x in good}
    body_good = [x for x in good if x.part == "body"]
    if body_good:
        reasons.append(f"Nhắc {len(body_good)} lần trong bài ({len(distinct)} địa danh khác nhau)")
    seen_notes: set[str] = set()
    for x in mine:
        m = x.match
        old = m.is_old_name or (m.candidates and m.resolved_by in ("mặc định", "từ chỉ cấp"))
        if old and m.note not in seen_notes and x.weight > 0 and not x.passing:
            seen_notes.add(m.note)
            reasons.append(m.note[0].upper() + m.note[1:])
        if x.passing:
            reasons.append(f"Chỉ nhắc qua: {_q(m.surface)} {_PASSING_VI[x.passing]}")
        if m.weak and not x.passing:
            if m.level in _TOP:
                reasons.append(f"{_q(m.surface)} có thể là từ thường hoặc tên riêng khác: tính ít")
            else:
                reasons.append(
                    f"{_q(m.surface)} không kèm “xã/phường/huyện”: chỉ tính khi bài nêu tỉnh"
                )
    for x in mentions:
        m = x.match
        if m.ambiguous and any(gz.unit(c).province_code == province_code for c in m.candidates):
            reasons.append(f"Không tính: {m.note}")

    places = _places(gz, mine, target.code)
    score = max(0.0, min(1.0, score))
    relevant = score >= THRESHOLD
    reasons.append(
        f"{'Liên quan' if relevant else 'Không liên quan'} đến {target.label} "
        f"(điểm {score:.2f}, ngưỡng {THRESHOLD:.1f})"
    )
    return Relevance(
        province_code=province_code,
        score=score,
        relevant=relevant,
        places=tuple(places),
        reasons=tuple(dict.fromkeys(reasons)),
        mentions=tuple(mentions),
        other_provinces=dict(sorted(others.items(), key=lambda kv: -kv[1])),
    )


def _places(gz: Gazetteer, mine: list[Mention], province_code: str) -> list[PlaceRef]:
    counts: dict[str, int] = defaultdict(int)
    order: list[str] = []
    for x in sorted(mine, key=lambda x: -x.weight):
        c = x.match.code
        if c is None:
            continue
        if c not in counts:
            order.append(c)
        counts[c] += 1
    if not order:
        return []
    p = gz.province(province_code)
    out = [PlaceRef(p.code, p.full_name, p.level, False, p.code, counts.get(p.code, 0),
                    named=p.code in counts)]  # fmt: skip
    for c in order:
        if c == p.code:
            continue
        u = gz.unit(c)
        out.append(PlaceRef(u.code, u.full_name, u.level, u.is_old, u.province_code, counts[c]))
    return out
