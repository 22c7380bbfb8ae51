"""Building one day's digest from a real SQLite store: the window, relevance, stories, sections,
officers' decisions, numbering, spikes; and, end to end, the demo network crawled, classified and
digested."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import unicodedata
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from digest.build import archive_dir, build_digest
from digest.summary import summarize
from store.db import open_store
from store.models import Classification, Decision, Digest, Item, Source, Story
from store.profile import load_profile, parse_profile
from store.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
VN = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 21)  # window: 07:00 20/11 → 07:00 21/11 (Asia/Ho_Chi_Minh)
NOW = datetime(2026, 11, 21, 7, 30, tzinfo=VN)

PROFILE = """
province: {code: vinh_long, name: Vĩnh Long, former: [Trà Vinh, Bến Tre]}
agency: Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long
digest:
  recipients: [lanhdao.tinhuy@demo.vinhlong.local]
  window_start: "07:00"
handling_rules:
  agencies:
    dat_dai_khieu_kien: Sở Nông nghiệp và Môi trường
  rules:
    - when: {misleading: sai_lech, channel: social}
      handling: Chuyển cơ quan chức năng xử lý
    - when: {misleading: chua_kiem_chung}
      handling: Giao {so_nganh} kiểm tra, xác minh, phản hồi báo chí
    - when: {tone: tieu_cuc, topics: [dat_dai_khieu_kien]}
      handling: Giao {so_nganh} kiểm tra, xác minh, phản hồi báo chí
    - when: {sensitivity: [nhay_cam, can_chu_y]}
      handling: Theo dõi thêm
    - when: {tone: tich_cuc}
      handling: Phát huy, chia sẻ thông tin tích cực
"""


def vn(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=VN)


class World:
    """A store filled by hand: sources, items with their classification, stories, decisions."""

    def __init__(self, tmp_path: Path, profile_text: str = PROFILE):
        self.tmp = tmp_path
        self.factory = open_store(f"sqlite:///{tmp_path}/kho.db")
        self.profile, problems = parse_profile(profile_text)
        assert not problems
        self.settings = Settings(data_dir=tmp_path / "data")
        self._n = 0
        self.sources: dict[str, int] = {}
        self.add_source("baovinhlong", "Báo Vĩnh Long", "press_local", weight=2.0)
        self.add_source("nhandan", "Báo Nhân Dân", "press_central", weight=1.5)
        self.add_source("tinnhanh", "Tin Nhanh Việt Nam — sitemap", "press_central")
        self.add_source("tinnhanh-rss", "Tin Nhanh Việt Nam — RSS Thời sự", "press_central")
        self.add_source("mekong", "The Mekong Observer", "press_foreign", language="en")
        self.add_source("diendan", "Diễn đàn Miền Tây", "social")
        self.add_source("telegram", "Tin Nóng Miền Tây (Telegram)", "social")

    def add_source(self, name, title, kind, *, weight=1.0, language="vi") -> None:
        with self.factory() as s:
            src = Source(
                name=name,
                title=title,
                profile="demo",
                kind=kind,
                language=language,
                fetch_type="feed",
                urls=[f"https://{name}.example/rss"],
                weight=weight,
            )
            s.add(src)
            s.commit()
            self.sources[name] = src.id

    def story(self, title: str, spread: list[tuple[str, datetime]] = ()) -> int:
        spread = list(spread) or [("baovinhlong", vn(DAY, 6))]
        with self.factory() as s:
            st = Story(
                title=title,
                first_seen=min(t for _, t in spread),
                last_seen=max(t for _, t in spread),
                outlets=list(dict.fromkeys(n for n, _ in spread)),
                spread=[[n, t.astimezone(UTC).isoformat()] for n, t in spread],
            )
            s.add(st)
            s.commit()
            return st.id

    def item(
        self,
        source: str,
        title: str,
        text: str,
        when: datetime,
        *,
        url: str | None = None,
        classified: bool = True,
        relevant: bool = True,
        story: int | None = None,
        topics: dict | None = None,
        tone: str = "trung_lap",
        sensitivity: str = "binh_thuong",
        misleading: str = "khong",
        evidence: dict | None = None,
        places: list | None = None,
    ) -> int:
        self._n += 1
        title = unicodedata.normalize("NFC", title)
        text = unicodedata.normalize("NFC", text)
        with self.factory() as s:
            src = s.get(Source, self.sources[source])
            it = Item(
                url=url or f"https://{source}.example/bai-{self._n}.html",
                source_id=src.id,
                kind=src.kind,
                language=src.language,
                title=title,
                text=text,
                published_at=when,
                fetched_at=when + timedelta(minutes=5),
                content_hash=hashlib.sha256(text.encode()).hexdigest(),
                title_key=hashlib.sha1(title.lower().encode()).hexdigest(),
            )
            s.add(it)
            s.flush()
            if classified:
                s.add(
                    Classification(
                        item_id=it.id,
                        relevant=relevant,
                        relevance=0.9 if relevant else 0.1,
                        places=places
                        if places is not None
                        else [{"name": "Tỉnh Vĩnh Long", "level": "province", "named": True}],
                        story_id=story,
                        topics=topics or {"dau_tu_kinh_te": 0.8},
                        tone=tone,
                        sensitivity=sensitivity,
                        sensitivity_reasons=[f"{sensitivity}: lý do mẫu"]
                        if sensitivity != "binh_thuong"
                        else [],
                        misleading=misleading,
                        misleading_score=0.9 if misleading != "khong" else 0.0,
                        misleading_evidence=evidence or {},
                        rules_fired=[],
                        model_version="test",
                    )
                )
            s.commit()
            return it.id

    def decide(self, item_id: int, action: str, *, minutes: int = 0, **kw) -> None:
        with self.factory() as s:
            s.add(
                Decision(
                    item_id=item_id,
                    user="canbo.thuy",
                    at=NOW - timedelta(minutes=30 - minutes),
                    action=action,
                    **kw,
                )
            )
            s.commit()

    def build(self, day: date = DAY, **kw):
        kw.setdefault("now", NOW + (day - DAY))
        kw.setdefault("pdf", False)  # LibreOffice takes seconds; the PDF tests ask for it
        return build_digest(self.factory, self.profile, "demo", day, self.settings, **kw)


LEAD = (
    "UBND tỉnh Vĩnh Long vừa trao quyết định chủ trương đầu tư cho 12 dự án với tổng vốn hơn "
    "18.500 tỉ đồng. Các dự án tập trung vào năng lượng tái tạo, chế biến nông sản và logistics. "
    "Lãnh đạo tỉnh cam kết đồng hành, tháo gỡ vướng mắc cho nhà đầu tư."
)


def entries_by_title(result) -> dict:
    return {e.title: e for e in result.data.entries}


def section_of(result, title: str) -> str:
    for s in result.data.sections:
        if not s.brief and any(e.title == title for e in s.entries):
            return s.code
    raise KeyError(title)


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.factory.kw["bind"].dispose()


# ── window and selection ─────────────────────────────────────────────────────────────────────


def test_window_is_0700_to_0700_and_0659_is_in_but_0700_is_not(world):
    world.item("baovinhlong", "Tin lúc 06:59 hôm nay", LEAD, vn(DAY, 6, 59))
    world.item("baovinhlong", "Tin lúc 07:00 hôm nay", LEAD, vn(DAY, 7, 0))
    world.item("baovinhlong", "Tin lúc 07:00 hôm qua", LEAD, vn(DAY - timedelta(days=1), 7, 0))
    world.item("baovinhlong", "Tin lúc 06:59 hôm qua", LEAD, vn(DAY - timedelta(days=1), 6, 59))
    result = world.build()
    titles = set(entries_by_title(result))
    assert titles == {"Tin lúc 06:59 hôm nay", "Tin lúc 07:00 hôm qua"}
    assert result.data.window_start == vn(DAY - timedelta(days=1), 7)
    assert result.data.window_end == vn(DAY, 7)
    assert result.data.total.today == 2
    # the 07:00 item opens the next day's window
    assert "Tin lúc 07:00 hôm nay" in entries_by_title(world.build(DAY + timedelta(days=1)))


def test_irrelevant_items_are_left_out(world):
    world.item("nhandan", "Vĩnh Long thu hút 12 dự án đầu tư", LEAD, vn(DAY, 5))
    world.item(
        "nhandan",
        "Danh sách 34 tỉnh, thành phố sau sắp xếp",
        "Sau sắp xếp, cả nước có 34 tỉnh, thành phố: Hà Nội, Huế, Vĩnh Long, Cần Thơ…",
        vn(DAY, 4),
        relevant=False,
    )
    result = world.build()
    assert list(entries_by_title(result)) == ["Vĩnh Long thu hút 12 dự án đầu tư"]
    assert result.data.total.today == 1
    assert not result.unlabelled


def test_one_entry_per_story_with_its_outlets_counted(world):
    sid = world.story("Vĩnh Long trao chủ trương đầu tư 12 dự án")
    title = "Vĩnh Long trao chủ trương đầu tư 12 dự án, tổng vốn hơn 18.500 tỉ đồng"
    ids = [
        world.item("tinnhanh", title, LEAD, vn(DAY, 1), story=sid),
        world.item("baovinhlong", title, LEAD, vn(DAY, 2), story=sid),
        world.item("nhandan", title, LEAD, vn(DAY, 3), story=sid),
        # the same paper's second feed: the same outlet, not a new one
        world.item("tinnhanh-rss", title + " (cập nhật)", LEAD, vn(DAY, 4), story=sid),
        world.item("telegram", "📰 " + title, LEAD, vn(DAY, 5), story=sid),
    ]
    result = world.build()
    entries = result.data.entries
    assert len(entries) == 1
    e = entries[0]
    assert sorted(e.item_ids) == sorted(ids)
    assert e.outlet_count == 4
    assert e.outlets == [
        "Tin Nhanh Việt Nam",
        "Báo Vĩnh Long",
        "Báo Nhân Dân",
        "Tin Nóng Miền Tây (Telegram)",
    ]
    assert e.title == title
    assert e.channel == "press_local"  # the weightiest press outlet heads the entry
    assert e.url.startswith("https://baovinhlong.example/")
    assert e.time == vn(DAY, 1)
    text = result.files["txt"].read_text(encoding="utf-8")
    assert text.count(title + "\n") == 1
    assert "4 nguồn" in text


def test_sections_in_order_handling_for_every_flagged_story_positive_listed_again(world):
    land = world.item(
        "baovinhlong",
        "Người dân Cầu Ngang tụ tập phản đối giá đền bù",
        "Hàng chục người dân xã Mỹ Long tụ tập trước trụ sở UBND xã phản đối mức bồi thường. "
        "Nhiều đơn thư đã được gửi lên tỉnh. Chính quyền xã đã mời người dân đối thoại.",
        vn(DAY, 2),
        topics={"dat_dai_khieu_kien": 0.9},
        tone="tieu_cuc",
        sensitivity="can_chu_y",
    )
    rumour = world.item(
        "telegram",
        "⚡️ KHẨN: VỠ ĐÊ BIỂN Ở CẦU NGANG!",
        "Nghe nói đê biển Cầu Ngang vỡ, nước tràn ngập cả xã Hiệp Mỹ. Chia sẻ gấp cho bà con!",
        vn(DAY, 1),
        topics={"tai_nan_thien_tai": 0.9},
        tone="tieu_cuc",
        sensitivity="nhay_cam",
        misleading="sai_lech",
        evidence={
            "why": "khớp với thông tin bác bỏ chính thức",
            "statement": {
                "title": "Không có chuyện vỡ đê biển ở Vĩnh Long",
                "source": "baovinhlong",
                "published_at": "2026-11-20T23:00:00+00:00",
            },
        },
    )
    unverified = world.item(
        "diendan",
        "Nghe nói sắp giải tỏa cả khu chợ Cầu Kè?",
        "Mọi người ơi, nghe nói tỉnh sắp giải tỏa toàn bộ khu chợ Cầu Kè để làm dự án, có ai biết "
        "không? Bà con buôn bán ở đây lo lắm.",
        vn(DAY, 3),
        topics={"dat_dai_khieu_kien": 0.7},
        misleading="chua_kiem_chung",
        sensitivity="can_chu_y",
    )
    world.item("nhandan", "Vĩnh Long thu hút 12 dự án đầu tư", LEAD, vn(DAY, 4), tone="tich_cuc")
    world.item(
        "mekong",
        "Vinh Long coconut exports to China double",
        "Coconut exports from Vinh Long province to China doubled this year. Farmers say "
        "prices are the best in a decade. Processors struggle to buy enough fruit.",
        vn(DAY, 5),
    )
    result = world.build()
    data = result.data
    assert [s.code for s in data.sections] == [
        "can_xu_ly",
        "press_central",
        "press_local",
        "press_foreign",
        "social",
        "tich_cuc",
    ]
    assert [s.numeral for s in data.sections] == ["I", "II", "III", "IV", "V", "VI"]
    first = data.section("can_xu_ly").entries
    assert {i for e in first for i in e.item_ids} == {land, rumour, unverified}
    for e in first:
        assert e.handling, e.title
    by_id = {e.item_ids[0]: e for e in first}
    assert by_id[rumour].handling == "Chuyển cơ quan chức năng xử lý"
    assert by_id[unverified].handling == (
        "Giao Sở Nông nghiệp và Môi trường kiểm tra, xác minh, phản hồi báo chí"
    )
    assert by_id[land].handling.startswith("Giao Sở Nông nghiệp và Môi trường")
    assert first[0].item_ids == [rumour]  # the most serious first
    assert first[0].title == "KHẨN: VỠ ĐÊ BIỂN Ở CẦU NGANG!"  # cleaned
    assert "Không có chuyện vỡ đê biển" in first[0].misleading_note
    # not repeated in their channel sections
    for s in data.sections[1:5]:
        assert not {i for e in s.entries for i in e.item_ids} & {land, rumour, unverified}
    # the positive story is in its channel and listed again (briefly) in VI
    pos = data.section("tich_cuc").entries
    assert [e.title for e in pos] == ["Vĩnh Long thu hút 12 dự án đầu tư"]
    assert pos[0].ref == "II.1"
    assert pos[0].handling == "Phát huy, chia sẻ thông tin tích cực"
    assert data.section("press_foreign").entries[0].title.startswith("Vinh Long coconut")
    assert data.section("press_local").entries == []
    text = result.files["txt"].read_text(encoding="utf-8")
    assert "III. BÁO CHÍ ĐỊA PHƯƠNG (0)\n" in text
    assert text.count("Không có tin.") == 2  # local press and social media
    assert "xem mục II.1" in text
    for e in first:
        assert f"Đề xuất: {e.handling}" in text


def test_ranking_by_severity_then_spread_then_weight(world):
    big = world.story("Sạt lở bờ sông Măng Thít")
    for n, src in enumerate(("baovinhlong", "nhandan", "tinnhanh")):
        world.item(src, "Sạt lở bờ sông Măng Thít cuốn 3 căn nhà", LEAD, vn(DAY, 1 + n), story=big)
    world.item("nhandan", "Hội thảo xúc tiến đầu tư", LEAD, vn(DAY, 6))
    world.item("tinnhanh", "Khánh thành cầu Rạch Miễu 2", LEAD, vn(DAY, 6, 30))
    world.item(
        "nhandan", "Khởi tố nguyên giám đốc ban quản lý dự án", LEAD, vn(DAY, 2), tone="tieu_cuc"
    )
    result = world.build()
    central = [e.title for e in result.data.section("press_central").entries]
    local = [e.title for e in result.data.section("press_local").entries]
    assert local == ["Sạt lở bờ sông Măng Thít cuốn 3 căn nhà"]  # Báo Vĩnh Long weighs most
    assert central == ["Hội thảo xúc tiến đầu tư", "Khánh thành cầu Rạch Miễu 2"]  # weight
    assert [e.title for e in result.data.section("can_xu_ly").entries] == [
        "Khởi tố nguyên giám đốc ban quản lý dự án"
    ]


# ── officers' decisions ──────────────────────────────────────────────────────────────────────


def test_decisions_override_the_classifier(world):
    excluded = world.item("nhandan", "Tin trùng cần loại", LEAD, vn(DAY, 1))
    corrected = world.item(
        "baovinhlong",
        "Nông dân chuyển đất lúa nhiễm mặn sang trồng dừa",
        "Nhiều nông dân xã Châu Thành chuyển đất lúa nhiễm mặn sang trồng dừa xiêm. Thu nhập cao "
        "gấp ba lần trồng lúa. Xã có hơn 1.200 ha dừa.",
        vn(DAY, 2),
        tone="tieu_cuc",
        sensitivity="can_chu_y",
    )
    handled = world.item(
        "diendan",
        "Cá chết hàng loạt trên kênh Trà Ôn?",
        "Sáng nay cá chết nổi trắng kênh ở Trà Ôn, bà con nghi do nước thải nhà máy đổ ra kênh.",
        vn(DAY, 3),
        topics={"moi_truong": 0.9},
        tone="tieu_cuc",
        sensitivity="can_chu_y",
    )
    dismissed = world.item(
        "mekong",
        "Vinh Long hosts Khmer Ok Om Bok festival",
        "Thousands gathered at Ao Ba Om for the Ok Om Bok festival. Boat races drew crowds. "
        "Visitors enjoyed traditional food.",
        vn(DAY, 4),
        topics={"dan_toc": 0.8},
        sensitivity="can_chu_y",
    )
    world.decide(excluded, "exclude", note="tin trùng")
    world.decide(corrected, "correct", tone="tich_cuc", sensitivity="binh_thuong")
    world.decide(
        handled,
        "confirm",
        handling="Giao Sở Nông nghiệp và Môi trường lấy mẫu nước, trả lời trên báo Vĩnh Long",
        status="dang_xu_ly",
        note="Đã báo UBND xã",
    )
    world.decide(dismissed, "dismiss")
    result = world.build()
    data = result.data
    ids = {i for e in data.entries for i in e.item_ids}
    assert excluded not in ids
    assert data.total.today == 3
    local = data.section("press_local").entries
    assert [e.item_ids for e in local] == [[corrected]]
    assert local[0].tone == "tich_cuc"
    assert data.section("tich_cuc").entries[0].item_ids == [corrected]
    first = data.section("can_xu_ly").entries
    assert [e.item_ids for e in first] == [[handled]]
    assert first[0].handling.startswith("Giao Sở Nông nghiệp và Môi trường lấy mẫu nước")
    assert first[0].handling_by_officer
    assert first[0].status == "dang_xu_ly"
    assert data.section("press_foreign").entries[0].item_ids == [dismissed]
    text = result.files["txt"].read_text(encoding="utf-8")
    assert "Tình trạng: Đang xử lý" in text
    assert "lấy mẫu nước" in result.files["html"].read_text(encoding="utf-8")
    counts = {c.code: c.today for c in data.counts_tone}
    assert counts["tich_cuc"] == 1 and counts["tieu_cuc"] == 1


def test_newest_decision_wins_and_speaks_for_the_whole_story(world):
    sid = world.story("Tin đồn giải tỏa chợ")
    a = world.item(
        "diendan",
        "Sắp giải tỏa chợ Cầu Kè?",
        "Nghe nói sắp giải tỏa chợ Cầu Kè để làm dự án, bà con buôn bán lo lắng lắm.",
        vn(DAY, 1),
        story=sid,
        misleading="chua_kiem_chung",
        sensitivity="can_chu_y",
    )
    world.item(
        "telegram",
        "Giải tỏa chợ Cầu Kè?",
        "Có tin sắp giải tỏa toàn bộ chợ Cầu Kè để làm dự án thương mại, chưa rõ thật hư.",
        vn(DAY, 2),
        story=sid,
        misleading="chua_kiem_chung",
        sensitivity="can_chu_y",
    )
    world.decide(a, "correct", handling="Theo dõi thêm", minutes=0)
    world.decide(a, "dismiss", note="Đã xác minh: tin cũ, UBND xã đã trả lời", minutes=10)
    result = world.build()
    assert result.data.section("can_xu_ly").entries == []
    (e,) = result.data.section("social").entries
    assert e.outlet_count == 2 and e.dismissed and e.misleading == "khong"


def test_a_decision_summary_replaces_the_extract_when_the_review_app_gives_one(world):
    """Decision has no summary column yet; when the review app adds one, it wins."""
    from types import SimpleNamespace

    from digest.select import _story_decision

    item = world.item("baovinhlong", "Hội nghị xúc tiến đầu tư", LEAD, vn(DAY, 1))
    assert (
        world.build().data.entries[0].summary.startswith("UBND tỉnh Vĩnh Long vừa trao quyết định")
    )
    dec = SimpleNamespace(
        item_id=item,
        at=NOW,
        id=1,
        user="canbo.thuy",
        action="correct",
        relevant=None,
        topics=None,
        tone=None,
        sensitivity=None,
        misleading=None,
        handling=None,
        status=None,
        note=None,
        summary="Tỉnh trao chủ trương đầu tư 12 dự án.",
    )
    row = SimpleNamespace(decision=dec)
    assert _story_decision([row])["summary"] == "Tỉnh trao chủ trương đầu tư 12 dự án."


# ── unlabelled ───────────────────────────────────────────────────────────────────────────────


def test_unlabelled_store_still_builds_and_says_so(world):
    world.item("baovinhlong", "Vĩnh Long thu hút 12 dự án", LEAD, vn(DAY, 1), classified=False)
    world.item("nhandan", "Vĩnh Long thu hút 12 dự án", LEAD, vn(DAY, 2), classified=False)
    world.item(
        "diendan",
        "Bàn chuyện đội bóng",
        "Vòng này đội nhà đá sân khách.",
        vn(DAY, 3),
        classified=False,
    )
    result = world.build()
    assert result.unlabelled and result.data.unlabelled
    assert result.data.unlabelled_count == 3
    assert len(result.data.entries) == 2  # identical titles grouped
    assert result.data.section("can_xu_ly").entries == []
    for fmt in ("txt", "html"):
        assert "Chưa phân loại: cả 3 tin, bài" in result.files[fmt].read_text(encoding="utf-8")
    assert {c.code: c.today for c in result.data.counts_tone}["chua_phan_loai"] == 3
    with world.factory() as s:
        row = s.get(Digest, result.digest_id)
        assert row.counts["unlabelled"] == 3


def test_partly_unlabelled_says_how_many(world):
    world.item("baovinhlong", "Vĩnh Long thu hút 12 dự án", LEAD, vn(DAY, 1))
    world.item("nhandan", "Tin chưa phân loại", LEAD, vn(DAY, 2), classified=False)
    result = world.build()
    assert result.unlabelled
    assert "Chưa phân loại: 1/2 tin, bài" in result.files["txt"].read_text(encoding="utf-8")


# ── numbering, archive, the Digest row ───────────────────────────────────────────────────────


def test_numbers_are_sequential_per_year_and_stable_on_rebuild(world):
    world.item("baovinhlong", "Vĩnh Long thu hút 12 dự án", LEAD, vn(DAY, 1))
    first = world.build(DAY)
    second = world.build(DAY + timedelta(days=1))
    again = world.build(DAY)
    assert (first.number, second.number, again.number) == (1, 2, 1)
    assert again.digest_id == first.digest_id
    new_year = world.build(date(2027, 1, 1))
    assert new_year.number == 1
    assert world.build(date(2027, 1, 2)).number == 2
    assert world.build(DAY + timedelta(days=2)).number == 3
    assert first.subject == "Điểm tin báo chí số 1/2026 ngày 21/11/2026 — Vĩnh Long"
    with world.factory() as s:
        rows = s.scalars(select(Digest).order_by(Digest.date)).all()
        assert [(r.year, r.number) for r in rows] == [
            (2026, 1),
            (2026, 2),
            (2026, 3),
            (2027, 1),
            (2027, 2),
        ]
        row = s.get(Digest, first.digest_id)
        assert row.status == "built"
        assert row.window_start == vn(DAY - timedelta(days=1), 7)
        assert row.counts["items"] == 1


def test_files_are_archived_by_year_profile_and_date(world):
    world.item("baovinhlong", "Vĩnh Long thu hút 12 dự án", LEAD, vn(DAY, 1))
    result = world.build()
    folder = world.settings.data_dir / "digests" / "2026" / "demo-2026-11-21"
    assert archive_dir(world.settings, "demo", DAY) == folder
    names = {p.name for p in folder.iterdir()}
    assert {"diem-tin.html", "diem-tin.txt", "diem-tin.docx", "bieu-do.png"} <= names
    assert not any(n.endswith(".tmp") for n in names)
    assert result.files["html"] == folder / "diem-tin.html"
    assert result.files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with world.factory() as s:
        row = s.get(Digest, result.digest_id)
        assert {k: Path(v) for k, v in row.files.items()} == result.files


def test_a_sent_digest_is_never_rebuilt(world):
    world.item("baovinhlong", "Vĩnh Long thu hút 12 dự án", LEAD, vn(DAY, 1))
    first = world.build()
    before = first.files["html"].read_bytes()
    with world.factory() as s:
        s.get(Digest, first.digest_id).status = "sent"
        s.commit()
    world.item("nhandan", "Tin đến sau khi đã gửi", LEAD, vn(DAY, 2))
    again = world.build()
    assert again.frozen
    assert (again.digest_id, again.number) == (first.digest_id, first.number)
    assert again.files == first.files
    assert first.files["html"].read_bytes() == before
    with world.factory() as s:
        row = s.get(Digest, first.digest_id)
        assert row.status == "sent" and row.counts["items"] == 1
    assert world.build(force=True).frozen  # not even forced


def test_pdf_made_when_soffice_is_on_path_else_skipped_with_a_reason(world, monkeypatch):
    world.item("baovinhlong", "Vĩnh Long thu hút 12 dự án", LEAD, vn(DAY, 1))
    monkeypatch.setenv("PATH", str(world.tmp / "empty-bin"))
    result = world.build(pdf=True)
    assert "pdf" not in result.files
    assert any("LibreOffice" in w for w in result.warnings)
    fake = world.tmp / "bin"
    fake.mkdir()
    script = fake / "soffice"
    script.write_text(
        "#!/bin/sh\n"
        '# fake LibreOffice: --convert-to pdf --outdir DIR FILE\nwhile [ "$1" != "--outdir" ]; '
        'do shift; done\nout="$2"; src="$3"; b=$(basename "$src" .docx)\n'
        'printf "%%PDF-1.4 fake" > "$out/$b.pdf"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}/usr/bin{os.pathsep}/bin")
    result = world.build(pdf=True)
    assert result.files["pdf"].read_bytes().startswith(b"%PDF")
    assert result.files["pdf"].name == "diem-tin.pdf"
    monkeypatch.setenv("PATH", str(world.tmp / "empty-bin"))
    result = world.build(pdf=True)  # converter gone: no stale PDF of an older build is left
    assert "pdf" not in result.files
    assert not (archive_dir(world.settings, "demo", DAY) / "diem-tin.pdf").exists()


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice (soffice) không có trên máy")
def test_real_pdf_with_libreoffice(world):
    world.item("baovinhlong", "Vĩnh Long thu hút 12 dự án", LEAD, vn(DAY, 1))
    result = world.build(pdf=True)
    pdf = result.files["pdf"].read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000


# ── counts and spikes ────────────────────────────────────────────────────────────────────────


def test_counts_against_previous_day_and_seven_day_average(world):
    for k in range(1, 8):  # one item a day for the 7 days before
        world.item("nhandan", f"Tin ngày trước {k}", LEAD, vn(DAY - timedelta(days=k), 3))
    world.item("nhandan", "Tin thêm hôm trước", LEAD, vn(DAY - timedelta(days=1), 4))
    for n in range(4):
        world.item("baovinhlong", f"Tin hôm nay {n}", LEAD, vn(DAY, 1 + n), tone="tich_cuc")
    data = world.build().data
    assert (data.total.today, data.total.previous) == (4, 2)
    assert data.total.delta_previous == 2
    assert data.total.avg7 == pytest.approx(8 / 7, abs=0.05)
    tone = {c.code: c for c in data.counts_tone}
    assert tone["tich_cuc"].today == 4 and tone["trung_lap"].previous == 2
    chan = {c.code: c for c in data.counts_channel}
    assert chan["press_local"].today == 4 and chan["press_central"].today == 0
    assert [h.total for h in data.history] == [1, 1, 1, 1, 1, 2, 4]
    assert data.history[-1].day == DAY


def test_spike_notice_fires_on_a_synthetic_14_day_history(world):
    iuu = {"iuu": 0.9}
    for k in range(1, 15):  # 1 or 2 IUU items a day for 14 days
        for n in range(1 + k % 2):
            world.item(
                "baovinhlong",
                f"Tuyên truyền chống khai thác IUU ngày {k}-{n}",
                LEAD,
                vn(DAY - timedelta(days=k), 2 + n),
                topics=iuu,
            )
    quiet = world.build(DAY)
    assert not [n for n in quiet.data.notices if "IUU" in n]
    spike_day = DAY + timedelta(days=1)
    for n in range(9):
        world.item(
            "nhandan",
            f"Tàu cá Vĩnh Long bị bắt giữ ở vùng biển nước ngoài {n}",
            LEAD,
            vn(spike_day, 1, 5 * n),
            topics=iuu,
        )
    result = world.build(spike_day)
    notes = [n for n in result.data.notices if "Chống khai thác IUU" in n]
    assert len(notes) == 1 and "tăng đột biến: 9 tin, bài" in notes[0]
    for fmt in ("txt", "html"):
        assert "tăng đột biến" in result.files[fmt].read_text(encoding="utf-8")


def test_no_topic_spike_without_enough_history(world):
    for n in range(9):
        world.item("nhandan", f"Tàu cá bị bắt {n}", LEAD, vn(DAY, 1, n), topics={"iuu": 0.9})
    assert world.build().data.notices == []


def test_notice_when_a_sensitive_story_spreads_to_new_outlets(world):
    before = vn(DAY - timedelta(days=1), 5)
    sid = world.story(
        "Tin đồn vỡ đê",
        [
            ("diendan", before),
            ("telegram", vn(DAY, 1)),
            ("mekong", vn(DAY, 2)),
        ],
    )
    world.item(
        "diendan",
        "Vỡ đê ở Cầu Ngang có thật không?",
        "Mọi người ơi, đê biển ở Cầu Ngang vỡ thật không, nghe nói nước tràn ngập xã Hiệp Mỹ.",
        before,
        story=sid,
        misleading="chua_kiem_chung",
        sensitivity="can_chu_y",
    )
    for src, hh in (("telegram", 1), ("mekong", 2)):
        world.item(
            src,
            "Tin đồn vỡ đê biển Cầu Ngang lan trên mạng",
            "Tin đồn vỡ đê biển Cầu Ngang lan nhanh trên mạng xã hội. Nhiều người hoang mang.",
            vn(DAY, hh),
            story=sid,
            misleading="chua_kiem_chung",
            sensitivity="nhay_cam",
        )
    notes = world.build().data.notices
    assert len(notes) == 1, notes
    assert "lan sang 2 nguồn mới" in notes[0]
    assert "Tin Nóng Miền Tây (Telegram), The Mekong Observer" in notes[0]
    assert "mục I.1" in notes[0]


# ── summary ──────────────────────────────────────────────────────────────────────────────────

LONG_TEXT = (
    "(TNVN) - Sáng 20/11, tại phường Long Châu, UBND tỉnh Vĩnh Long tổ chức hội nghị xúc tiến "
    "đầu tư năm 2026 với sự tham dự của hơn 300 doanh nghiệp trong và ngoài nước.\n\n"
    "Phát biểu khai mạc, Chủ tịch UBND tỉnh cho biết sau hợp nhất, tỉnh Vĩnh Long có lợi thế lớn "
    "về nông nghiệp, năng lượng tái tạo và kinh tế biển, với bờ biển dài hơn 100 km. "
    "Tỉnh cam kết tạo môi trường đầu tư thuận lợi, rút ngắn thời gian giải quyết thủ tục. "
    "Ảnh: Hội nghị.\n\n"
    "Tại hội nghị, tỉnh trao quyết định chủ trương đầu tư cho 12 dự án với tổng vốn hơn 18.500 "
    "tỉ đồng, tập trung vào điện gió ngoài khơi, chế biến dừa xuất khẩu và trung tâm logistics "
    "gắn với cảng biển. "
    "Các nhà đầu tư Nhật Bản, Hàn Quốc và Singapore bày tỏ quan tâm đến lĩnh vực điện gió và chế "
    "biến nông sản của tỉnh. "
    "Buổi chiều cùng ngày, đoàn doanh nghiệp tham quan khu công nghiệp Hòa Phú và cù lao An Bình. "
    "Thời tiết hôm đó nắng đẹp, nhiều đại biểu chụp ảnh lưu niệm bên dòng sông Cổ Chiên."
)


def test_summary_is_two_or_three_whole_sentences_lead_first():
    from classify.text import sentences

    whole = set(sentences(LONG_TEXT)) | {s.removeprefix("(TNVN) - ") for s in sentences(LONG_TEXT)}
    for limit in (200, 420, 700, 2000):
        out = summarize("Vĩnh Long trao chủ trương đầu tư 12 dự án", LONG_TEXT, max_chars=limit)
        got = sentences(out)
        assert 2 <= len(got) <= 3, (limit, got)
        assert all(s in whole for s in got), got  # never cut mid-sentence
        assert got[0].startswith("Sáng 20/11, tại phường Long Châu")  # lead, dateline off
        assert out.endswith(".")
        assert "Ảnh:" not in out
    central = summarize("Vĩnh Long trao chủ trương đầu tư 12 dự án", LONG_TEXT)
    assert "12 dự án" in central  # the most central sentence, not the weather


def test_summary_of_a_short_post_and_of_nothing():
    assert summarize("Bàn chuyện đội bóng", "Vòng này đội nhà đá sân khách, anh em dự đoán?") == (
        "Vòng này đội nhà đá sân khách, anh em dự đoán?"
    )
    assert summarize("Tiêu đề", "") == ""
    assert summarize("Tiêu đề", "", fallback="Sapo của bài báo có đủ năm từ trở lên.") == (
        "Sapo của bài báo có đủ năm từ trở lên."
    )


# ── end to end on the demo network ───────────────────────────────────────────────────────────


def test_demo_network_digest_end_to_end(tmp_path):
    """Crawl the demo network (subprocess), classify in-process with the real encoder and the
    shipped heads, then build the digests whose windows hold the rumour and the sovereignty-map
    story: both in section I with proposed handling, syndicated copies once with their count."""
    from classify.pipeline import Classifier
    from crawlers.demo import expected
    from crawlers.demo.server import DemoNetwork
    from digest.stats import day_of

    data_dir = tmp_path / "data"
    with DemoNetwork(port=0) as network:
        os.environ.update(network.env())
        try:
            env = {**os.environ, **network.env(), "DIEMTIN_DATA_DIR": str(data_dir)}
            proc = subprocess.run(
                [sys.executable, "-m", "diemtin", "crawl", "-p", "demo"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
            profile, _ = load_profile(ROOT / "config" / "demo.yaml")
            factory = open_store(f"sqlite:///{data_dir / 'diemtin.db'}")
            Classifier(profile, cache_dir=tmp_path / "models").run(factory)
            base = network.base_url
            now = network.now
        finally:
            os.environ.pop("DIEMTIN_DEMO_URL", None)

    truth = {it.id: it for it in expected.items(now)}
    with factory() as s:
        by_url = dict(s.execute(select(Item.url, Item.id)).all())
    store_id = {k: by_url.get(it.url(base)) for k, it in truth.items()}
    settings = Settings(data_dir=data_dir)

    def day_of_item(k: str) -> date:
        return day_of(truth[k].published, VN)

    rumour = [k for k in expected.rumour_items() if store_id[k]]
    sov = [k for k in expected.sovereignty_map_items() if store_id[k]]
    assert rumour and sov
    days = Counter(day_of_item(k) for k in rumour + sov)
    results = {}
    for day in sorted(days):
        results[day] = build_digest(factory, profile, "demo", day, settings, now=now)

    for group in (rumour, sov):
        for k in group:
            r = results[day_of_item(k)]
            first = r.data.section("can_xu_ly").entries
            entry = next((e for e in first if store_id[k] in e.item_ids), None)
            assert entry is not None, (k, [e.title for e in first])
            assert entry.handling, entry.title
            assert entry.sensitivity in ("nhay_cam", "can_chu_y") or entry.misleading != "khong"

    # Syndicated copies: one entry per story, however many outlets carried it.
    checked = 0
    for day, r in results.items():
        item_entry = {i: e for e in r.data.entries for i in e.item_ids}
        text = r.files["txt"].read_text(encoding="utf-8")
        for story, ids in expected.syndicated().items():
            if story == expected.DENIAL:  # shared with the rumour it denies: its own test
                continue
            present = [store_id[k] for k in ids if store_id[k] and day_of_item(k) == day]
            present = [i for i in present if i in item_entry]
            if len(present) < 2:
                continue
            entries = {id(item_entry[i]) for i in present}
            assert len(entries) == 1, (story, [item_entry[i].title for i in present])
            e = item_entry[present[0]]
            assert e.outlet_count >= len(present)
            assert e.outlet_count == len(set(e.outlets))
            assert text.count(f". {e.title}\n") == 1, e.title
            assert f"{e.outlet_count} nguồn" in text
            checked += 1
        assert {"html", "txt", "docx", "png"} <= set(r.files)
        assert all(p.exists() for p in r.files.values())
        assert not r.unlabelled
    assert checked >= 3
    numbers = sorted(r.number for r in results.values())
    assert numbers == list(range(1, len(results) + 1))
    factory.kw["bind"].dispose()
