"""The periodic report: a real SQLite store with Vietnamese items, classifications, stories and
officers' decisions; the counts in the DOCX and the XLSX are the ones put in; the period's days
are whole days in Asia/Ho_Chi_Minh; `diemtin report` writes both files."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from openpyxl import load_workbook
from typer.testing import CliRunner

from digest.report import build_report, write_docx, write_xlsx
from store.db import open_store
from store.models import Classification, Decision, Item, Story
from store.profile import load_profile
from store.queries import sync_sources

VN = ZoneInfo("Asia/Ho_Chi_Minh")
START, END = dt.date(2026, 10, 1), dt.date(2026, 10, 31)

PROFILE_YAML = """\
province:
  code: vinh_long
  name: Vĩnh Long
  former: [Trà Vinh, Bến Tre]
agency: "Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long"
timezone: Asia/Ho_Chi_Minh
sources:
  - {name: baovinhlong, title: Báo Vĩnh Long, kind: press_local, type: feed,
     urls: ["https://baovinhlong.example/rss"]}
  - {name: thvl, title: Đài Phát thanh và Truyền hình Vĩnh Long, kind: press_local, type: feed,
     urls: ["https://thvl.example/rss"]}
  - {name: tuoitre, title: Báo Tuổi Trẻ, kind: press_central, type: feed,
     urls: ["https://tuoitre.example/rss"]}
  - {name: vnexpress, title: VnExpress, kind: press_central, type: feed,
     urls: ["https://vnexpress.example/rss"]}
  - {name: rfa, title: RFA Tiếng Việt, kind: press_foreign, type: feed,
     urls: ["https://rfa.example/rss"]}
  - {name: fbvl, title: "Nhóm Facebook “Vĩnh Long 24h”", kind: social, type: import}
"""
OTHER_YAML = """\
province: {code: ca_mau, name: Cà Mau}
agency: "Sở Văn hóa, Thể thao và Du lịch tỉnh Cà Mau"
sources:
  - {name: baocamau, title: Báo Cà Mau, kind: press_local, type: feed,
     urls: ["https://baocamau.example/rss"]}
"""

HI, LO = 0.95, 0.02  # topic probabilities clear of any threshold the heads may choose

A = "Khởi công cầu Đình Khao nối Vĩnh Long với Bến Tre, tổng vốn hơn 1.500 tỉ đồng"
B = "Sạt lở bờ sông Cổ Chiên ở Vĩnh Long, di dời khẩn cấp 20 hộ dân"
C = "Người dân Vĩnh Long bị cấm sinh hoạt tôn giáo? Phía sau luận điệu xuyên tạc"
H_CUNG_CAP = "Cung cấp thông tin chính thống cho báo chí"
H_CHUYEN = "Chuyển cơ quan chức năng xử lý"
H_CAI_CHINH = "Đề nghị cơ quan báo chí cải chính"


def _t(day: str, hm: str = "08:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=VN)


class _Store:
    def __init__(self, session, sources):
        self.s = session
        self.src = sources
        self.n = 0
        self.stories: dict[str, Story] = {}

    def story(self, key: str, title: str, first: dt.datetime) -> Story:
        if key not in self.stories:
            st = Story(title=title, first_seen=first, last_seen=first, item_count=0)
            self.s.add(st)
            self.s.flush()
            self.stories[key] = st
        st = self.stories[key]
        st.item_count += 1
        return st

    def item(
        self,
        source: str,
        title: str,
        when: dt.datetime | None,
        *,
        topics: dict | None = None,
        tone: str | None = None,
        level: str | None = "binh_thuong",
        misleading: str = "khong",
        relevant: bool = True,
        story: str | None = None,
        classified: bool = True,
        fetched: dt.datetime | None = None,
        text: str | None = None,
    ) -> Item:
        self.n += 1
        src = self.src[source]
        item = Item(
            url=f"https://{source}.example/bai-{self.n}.html",
            source_id=src.id,
            kind=src.kind,
            language="vi",
            title=title,
            text=text or f"{title}. Nội dung bài viết số {self.n} về tỉnh Vĩnh Long.",
            published_at=when,
            fetched_at=fetched or (when or _t("2026-10-10")) + dt.timedelta(minutes=20),
            content_hash=hashlib.sha256(f"{self.n}{title}".encode()).hexdigest(),
            title_key=hashlib.sha1(title.encode()).hexdigest()[:16],
        )
        self.s.add(item)
        self.s.flush()
        if classified:
            st = self.story(story, title, when) if story else None
            self.s.add(
                Classification(
                    item_id=item.id,
                    relevant=relevant,
                    relevance=0.9 if relevant else 0.1,
                    places=["Vĩnh Long"] if relevant else [],
                    story_id=st.id if st else None,
                    topics={"xa_hoi": LO, "moi_truong": LO, **(topics or {})},
                    tone=tone,
                    sensitivity=level,
                    misleading=misleading,
                    model_version="test-1",
                )
            )
        return item

    def decide(self, item: Item, at: dt.datetime, **kw) -> None:
        kw.setdefault("action", "confirm")
        self.s.add(Decision(item_id=item.id, user="cb.lan", at=at, **kw))
        self.s.flush()


@pytest.fixture
def store(tmp_path: Path):
    """The profile file, a session factory, and the store filled with October 2026."""
    prof_path = tmp_path / "vinh_long_thu.yaml"
    prof_path.write_text(PROFILE_YAML, encoding="utf-8")
    other_path = tmp_path / "ca_mau_thu.yaml"
    other_path.write_text(OTHER_YAML, encoding="utf-8")
    prof, problems = load_profile(prof_path)
    assert not problems
    other, _ = load_profile(other_path)
    url = f"sqlite:///{tmp_path}/kho.db"
    factory = open_store(url)
    with factory() as session:
        sources = sync_sources(session, prof_path.stem, prof.sources)
        sources.update(sync_sources(session, other_path.stem, other.sources))
        session.flush()
        s = _Store(session, sources)
        dt_ = {"dau_tu_kinh_te": HI}
        # Story A: 4 outlets, 4 items, positive.
        for src, when in (
            ("baovinhlong", _t("2026-10-03", "08:00")),
            ("thvl", _t("2026-10-03", "09:30")),
            ("tuoitre", _t("2026-10-03", "11:00")),
            ("vnexpress", _t("2026-10-04", "07:00")),
        ):
            s.item(src, A, when, topics=dt_, tone="tich_cuc", story="A")
        # Story B: 2 outlets, 3 items, negative, needs attention; one handled.
        tn = {"tai_nan_thien_tai": 0.9}
        b1 = s.item(
            "baovinhlong",
            B,
            _t("2026-10-12", "06:00"),
            topics=tn,
            tone="tieu_cuc",
            level="can_chu_y",
            story="B",
        )
        s.decide(b1, _t("2026-10-12", "09:00"), status="da_xu_ly", handling=H_CUNG_CAP)
        s.item(
            "baovinhlong",
            "Vĩnh Long hỗ trợ các hộ dân bị sạt lở bờ sông Cổ Chiên",
            _t("2026-10-12", "15:00"),
            topics=tn,
            tone="tieu_cuc",
            level="can_chu_y",
            story="B",
        )
        s.item(
            "tuoitre",
            "Sạt lở nghiêm trọng bờ sông Cổ Chiên, Vĩnh Long di dời dân",
            _t("2026-10-13", "08:00"),
            topics=tn,
            tone="tieu_cuc",
            level="can_chu_y",
            story="B",
        )
        # Story C: foreign press and social media, sensitive and misleading.
        tg = {"ton_giao": 0.92, "dan_chu_nhan_quyen": 0.88}
        c1 = s.item(
            "rfa",
            C,
            _t("2026-10-20", "10:00"),
            topics=tg,
            tone="tieu_cuc",
            level="nhay_cam",
            misleading="sai_lech",
            story="C",
        )
        s.decide(c1, _t("2026-10-20", "14:00"), status="dang_xu_ly", handling=H_CHUYEN)
        c2 = s.item(
            "fbvl",
            "Chia sẻ: “Người dân Vĩnh Long bị cấm sinh hoạt tôn giáo”",
            _t("2026-10-20", "13:00"),
            topics=tg,
            tone="tieu_cuc",
            level="nhay_cam",
            misleading="sai_lech",
            story="C",
        )
        s.decide(c2, _t("2026-10-20", "15:00"), status="moi", handling="Theo dõi thêm")
        s.decide(
            c2,
            _t("2026-10-21", "08:00"),
            action="correct",
            status="da_xu_ly",
            handling=H_CAI_CHINH,
            misleading="sai_lech",
        )
        # A rumour the officer dismissed: no longer sensitive, nor misleading.
        d = s.item(
            "fbvl",
            "Tin đồn xả lũ thủy điện làm ngập cả tỉnh Vĩnh Long",
            _t("2026-10-25", "21:00"),
            topics=tn,
            tone="tieu_cuc",
            level="can_chu_y",
            misleading="chua_kiem_chung",
        )
        s.decide(d, _t("2026-10-26", "07:00"), action="dismiss")
        # Unverified, no decision yet.
        s.item(
            "fbvl",
            "Clip: sự cố mất điện diện rộng ở Vĩnh Long do phá hoại?",
            _t("2026-10-26", "08:00"),
            topics={"an_ninh_trat_tu": 0.9},
            tone="trung_lap",
            level="can_chu_y",
            misleading="chua_kiem_chung",
        )
        # Not classified yet.
        s.item(
            "baovinhlong",
            "Vĩnh Long tổ chức Hội chợ nông sản OCOP năm 2026",
            _t("2026-10-15", "10:00"),
            classified=False,
        )
        # Left out of the digest by an officer: left out of the figures too.
        x = s.item(
            "thvl",
            "Quảng cáo: Khu đô thị mới Vĩnh Long mở bán đợt cuối",
            _t("2026-10-14"),
            topics=dt_,
            tone="tich_cuc",
        )
        s.decide(x, _t("2026-10-14", "12:00"), action="exclude", note="Tin quảng cáo")
        # Not relevant: by the classifier, and by an officer.
        s.item(
            "thvl",
            "Giá vàng hôm nay 16/10",
            _t("2026-10-16"),
            topics=dt_,
            tone="trung_lap",
            relevant=False,
        )
        h = s.item(
            "tuoitre",
            "Vĩnh Long đội bóng thắng trên sân khách",
            _t("2026-10-17"),
            topics={"xa_hoi": 0.9},
            tone="trung_lap",
        )
        s.decide(h, _t("2026-10-17", "12:00"), action="correct", relevant=False, status="bo_qua")
        # Relevant by an officer, against the classifier; labels corrected, no status.
        i = s.item(
            "vnexpress",
            "Lễ hội Ok Om Bok ở Vĩnh Long thu hút hàng vạn du khách",
            _t("2026-10-18"),
            topics={"du_lich_van_hoa": LO},
            tone="trung_lap",
            relevant=False,
        )
        s.decide(
            i,
            _t("2026-10-18", "12:00"),
            action="correct",
            relevant=True,
            topics=["du_lich_van_hoa"],
            tone="tich_cuc",
        )
        # Period bounds, in Vietnam's time: the first and last minute in, one minute out each way.
        cd = {"chi_dao_dieu_hanh": HI}
        s.item(
            "baovinhlong",
            "UBND tỉnh Vĩnh Long họp báo thông tin kinh tế - xã hội quý III",
            _t("2026-10-01", "00:00"),
            topics=cd,
            tone="trung_lap",
        )
        s.item(
            "thvl",
            "Chủ tịch UBND tỉnh Vĩnh Long chỉ đạo ứng phó triều cường",
            _t("2026-10-31", "23:59"),
            topics={**cd, "tai_nan_thien_tai": 0.8},
            tone="trung_lap",
        )
        s.item(
            "baovinhlong",
            "Vĩnh Long tổng kết tháng 9",
            _t("2026-09-30", "23:59"),
            topics=cd,
            tone="trung_lap",
        )
        s.item(
            "baovinhlong",
            "Vĩnh Long triển khai nhiệm vụ tháng 11",
            _t("2026-11-01", "00:00"),
            topics=cd,
            tone="trung_lap",
        )
        # No publication date: the fetch time places it.
        s.item(
            "fbvl",
            "Ngắm cảnh đẹp cù lao An Bình mùa nước nổi",
            None,
            fetched=_t("2026-10-10", "09:00"),
            topics={"du_lich_van_hoa": HI},
            tone="tich_cuc",
        )
        # Another province's source.
        s.item(
            "baocamau",
            "Cà Mau và Vĩnh Long hợp tác du lịch",
            _t("2026-10-10"),
            topics=dt_,
            tone="tich_cuc",
        )
        # Relevant, no topic above its threshold.
        s.item(
            "rfa",
            "Vietnam's Mekong delta province of Vinh Long courts investors",
            _t("2026-10-22"),
            topics={},
            tone="trung_lap",
        )
        session.commit()
    try:
        yield prof_path, prof, factory
    finally:
        factory.kw["bind"].dispose()


EXPECTED = {
    "total": 17,
    "topic": {
        "Đầu tư, kinh tế": 4,
        "Tai nạn, thiên tai": 5,
        "Tôn giáo, tín ngưỡng": 2,
        "Dân chủ, nhân quyền": 2,
        "An ninh, trật tự": 1,
        "Du lịch, văn hóa": 2,
        "Chỉ đạo, điều hành": 2,
        "Khác (không thuộc chủ đề nào)": 1,
        "Chưa phân loại": 1,
        "Chủ quyền biển, đảo": 0,
        "Y tế, giáo dục, an sinh": 0,
    },
    "topic_negative": {"Tai nạn, thiên tai": 4, "Tôn giáo, tín ngưỡng": 2, "Đầu tư, kinh tế": 0},
    "tone": {"Tích cực": 6, "Trung lập": 4, "Tiêu cực": 6, "Chưa phân loại": 1},
    # channel: total, tích cực, trung lập, tiêu cực, chưa phân loại
    "channel": {
        "Báo chí địa phương": [7, 2, 2, 2, 1],
        "Báo chí Trung ương": [4, 3, 0, 1, 0],
        "Báo chí nước ngoài": [2, 0, 1, 1, 0],
        "Mạng xã hội": [4, 1, 1, 2, 0],
    },
    "source": {
        "Báo Vĩnh Long": 5,
        "Đài Phát thanh và Truyền hình Vĩnh Long": 2,
        "Báo Tuổi Trẻ": 2,
        "VnExpress": 2,
        "RFA Tiếng Việt": 2,
        "Nhóm Facebook “Vĩnh Long 24h”": 4,
    },
    "sensitivity": {"Nhạy cảm": 2, "Cần chú ý": 4, "Bình thường": 10, "Chưa phân loại": 1},
    "misleading": {"Sai lệch": 2, "Chưa kiểm chứng": 1, "Không": 13, "Chưa phân loại": 1},
    "status": {
        "Mới": 1,
        "Đang xử lý": 1,
        "Đã xử lý": 2,
        "Bỏ qua": 1,
        "Chưa có quyết định": 12,
    },
    "handling": {H_CUNG_CAP: 1, H_CHUYEN: 1, H_CAI_CHINH: 1, "(chưa ghi cách xử lý)": 2},
    # Mới, Đang xử lý, Đã xử lý, Bỏ qua, Chưa có quyết định
    "flagged": {
        "Nhạy cảm": [2, 0, 1, 1, 0, 0],
        "Cần chú ý": [4, 0, 0, 1, 0, 3],
        "Sai lệch": [2, 0, 1, 1, 0, 0],
        "Chưa kiểm chứng": [1, 0, 0, 0, 0, 1],
    },
    "top": [(A, 4, 4), (B, 2, 3), (C, 2, 2)],
    "stories": 11,
    "handled_titles": [
        B,
        "Lễ hội Ok Om Bok ở Vĩnh Long thu hút hàng vạn du khách",
        C,
        "Chia sẻ: “Người dân Vĩnh Long bị cấm sinh hoạt tôn giáo”",
        "Tin đồn xả lũ thủy điện làm ngập cả tỉnh Vĩnh Long",
    ],
}


def _report(store):
    prof_path, prof, factory = store
    with factory() as session:
        return build_report(
            session,
            prof,
            START,
            END,
            tz="Asia/Ho_Chi_Minh",
            profile_name=prof_path.stem,
            now=_t("2026-11-02", "08:00"),
        )


def test_build_report_counts(store):
    data = _report(store)
    assert data.total == EXPECTED["total"]
    assert data.unclassified == 1 and data.classified == 16
    assert data.stories == EXPECTED["stories"]
    assert data.sources == 6
    topics = {c.label: c.count for c in data.by_topic}
    for label, n in EXPECTED["topic"].items():
        assert topics[label] == n, label
    assert {c.label: c.count for c in data.by_tone} == EXPECTED["tone"]
    assert {c.label: c.count for c in data.by_sensitivity} == EXPECTED["sensitivity"]
    assert {c.label: c.count for c in data.by_misleading} == EXPECTED["misleading"]
    assert {c.label: c.count for c in data.by_source} == EXPECTED["source"]
    assert {c.label: c.count for c in data.by_status} == EXPECTED["status"]
    assert {c.label: c.count for c in data.by_handling} == EXPECTED["handling"]
    assert [(s.title, s.outlets, s.items) for s in data.top_stories[:3]] == EXPECTED["top"]
    assert data.top_stories[0].outlet_names[0] == "Báo Vĩnh Long"
    assert [h.title for h in data.handled] == EXPECTED["handled_titles"]
    # The newest decision is in force: the older "Theo dõi thêm" is gone.
    assert "Theo dõi thêm" not in {c.label for c in data.by_handling}
    assert data.counts("tone") == {"tich_cuc": 6, "trung_lap": 4, "tieu_cuc": 6, None: 1}


def test_period_bounds_are_vietnam_days(store):
    prof_path, prof, factory = store
    with factory() as session:
        # 1 October alone: the item at 00:00 (30 Sept 17:00 UTC) and nothing from 30 September.
        day1 = build_report(session, prof, START, START, tz=VN, profile_name=prof_path.stem)
        # 31 October alone: 23:59 in, 1 November 00:00 (31 Oct 17:00 UTC) out.
        day31 = build_report(session, prof, END, END, tz=VN, profile_name=prof_path.stem)
        sept = build_report(
            session,
            prof,
            dt.date(2026, 9, 30),
            dt.date(2026, 9, 30),
            tz=VN,
            profile_name=prof_path.stem,
        )
        nov = build_report(
            session,
            prof,
            dt.date(2026, 11, 1),
            dt.date(2026, 11, 1),
            tz=VN,
            profile_name=prof_path.stem,
        )
    assert day1.total == 1 and day1.top_stories[0].title.startswith("UBND tỉnh Vĩnh Long họp báo")
    assert day31.total == 1 and day31.top_stories[0].title.startswith("Chủ tịch UBND")
    assert sept.total == 1 and sept.top_stories[0].title == "Vĩnh Long tổng kết tháng 9"
    assert nov.total == 1 and nov.top_stories[0].title == "Vĩnh Long triển khai nhiệm vụ tháng 11"
    with pytest.raises(ValueError), factory() as session:
        build_report(session, prof, END, START, tz=VN)


def _docx_tables(path: Path) -> dict[str, list[list[str]]]:
    """{section title: rows (header first)} of the report's DOCX, read in document order."""
    import re

    from docx.table import Table

    out: dict[str, list[list[str]]] = {}
    heading = None
    for block in Document(str(path)).iter_inner_content():
        if isinstance(block, Table):
            if heading is not None and heading not in out:
                out[heading] = [[c.text for c in r.cells] for r in block.rows]
        else:
            m = re.match(r"^([IVX]+)\. (.+)$", block.text)
            heading = m.group(2) if m else heading
    return out


def _as_counts(rows: list[list], value_col: int = 1) -> dict[str, int]:
    return {r[0]: int(r[value_col]) for r in rows[1:]}


def test_docx_and_xlsx_say_the_counts(store, tmp_path):
    data = _report(store)
    docx_path = write_docx(data, tmp_path / "out" / "bao-cao.docx")
    xlsx_path = write_xlsx(data, tmp_path / "out" / "bao-cao.xlsx")

    # DOCX: A4, Times New Roman, the agency's header, one table per section.
    doc = Document(str(docx_path))
    sec = doc.sections[0]
    assert round(sec.page_width.cm, 1) == 21.0 and round(sec.page_height.cm, 1) == 29.7
    assert doc.styles["Normal"].font.name == "Times New Roman"
    assert 13 <= doc.styles["Normal"].font.size.pt <= 14
    head = doc.tables[0].rows[0].cells
    assert head[0].text.split("\n")[:2] == [
        "UBND TỈNH VĨNH LONG",
        "SỞ VĂN HÓA, THỂ THAO VÀ DU LỊCH",
    ]
    assert "/BC-SVHTTDL" in head[0].text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in head[1].text
    assert "Vĩnh Long, ngày 02 tháng 11 năm 2026" in head[1].text
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "từ ngày 01/10/2026 đến ngày 31/10/2026" in text
    assert "ghi nhận 17 tin, bài" in text
    sizes = {r.font.size.pt for p in doc.paragraphs for r in p.runs if r.font.size}
    for t in doc.tables[1:]:
        for row in t.rows:
            for cell in row.cells:
                sizes |= {r.font.size.pt for p in cell.paragraphs for r in p.runs if r.font.size}
    assert 13 in sizes and max(sizes) <= 14
    fonts = {r.font.name for p in doc.paragraphs for r in p.runs if r.font.name}
    assert fonts == {"Times New Roman"}

    tables = _docx_tables(docx_path)
    topics = _as_counts(tables["SỐ TIN THEO CHỦ ĐỀ"])
    for label, n in EXPECTED["topic"].items():
        assert topics[label] == n, label
    neg = _as_counts(tables["SỐ TIN THEO CHỦ ĐỀ"], 3)
    for label, n in EXPECTED["topic_negative"].items():
        assert neg[label] == n, label
    assert _as_counts(tables["SỐ TIN THEO SẮC THÁI"]) == EXPECTED["tone"]
    channel_rows = tables["SỐ TIN THEO KÊNH"]
    assert channel_rows[0][:2] == ["Kênh", "Số tin"]
    assert {r[0]: [int(x) for x in r[1:]] for r in channel_rows[1:]} == EXPECTED["channel"]
    assert _as_counts(tables["SỐ TIN THEO NGUỒN"]) == EXPECTED["source"]
    assert _as_counts(tables["SỐ TIN THEO MỨC NHẠY CẢM"]) == EXPECTED["sensitivity"]
    assert _as_counts(tables["SỐ TIN THEO MỨC SAI LỆCH"]) == EXPECTED["misleading"]
    assert (
        _as_counts(tables["TÌNH HÌNH XỬ LÝ (THEO QUYẾT ĐỊNH MỚI NHẤT CỦA CÁN BỘ)"])
        == (EXPECTED["status"])
    )
    assert _as_counts(tables["CÁCH XỬ LÝ ĐÃ ĐỀ XUẤT, THỰC HIỆN"]) == EXPECTED["handling"]
    flagged = tables["TIN NHẠY CẢM, SAI LỆCH VÀ VIỆC XỬ LÝ"]
    assert {r[0]: [int(x) for x in r[1:]] for r in flagged[1:]} == EXPECTED["flagged"]
    top = tables["CÂU CHUYỆN ĐƯỢC ĐĂNG NHIỀU NHẤT"]
    assert [(r[1], int(r[2]), int(r[3])) for r in top[1:4]] == EXPECTED["top"]
    handled = tables["DANH SÁCH TIN CÓ QUYẾT ĐỊNH XỬ LÝ"]
    assert [r[1] for r in handled[1:]] == EXPECTED["handled_titles"]
    overview = _as_counts(tables["TỔNG QUAN"])
    assert overview["Tổng số tin, bài liên quan đến tỉnh"] == 17
    assert overview["Số tin chưa phân loại"] == 1

    # XLSX: one sheet per table, bold header row, widths set; the same counts.
    wb = load_workbook(xlsx_path)
    assert {
        "Thông tin",
        "Tổng quan",
        "Chủ đề",
        "Sắc thái",
        "Kênh",
        "Nguồn",
        "Mức nhạy cảm",
        "Sai lệch",
        "Câu chuyện nổi bật",
        "Tình hình xử lý",
        "Cách xử lý",
        "Tin nhạy cảm, sai lệch",
        "Tin đã xử lý",
    } <= set(wb.sheetnames)
    for ws in wb.worksheets:
        assert all(c.font.bold for c in ws[1] if c.value is not None), ws.title
        assert ws.column_dimensions["A"].width and ws.column_dimensions["A"].width > 5, ws.title

    def sheet(name: str) -> list[list]:
        return [list(r) for r in wb[name].iter_rows(values_only=True) if r[0] is not None]

    def counts(name: str, col: int = 1) -> dict:
        return {r[0]: r[col] for r in sheet(name)[1:] if isinstance(r[col], int)}

    got = counts("Chủ đề")
    for label, n in EXPECTED["topic"].items():
        assert got[label] == n, label
    assert counts("Sắc thái") == EXPECTED["tone"]
    assert {r[0]: list(r[1:6]) for r in sheet("Kênh")[1:]} == EXPECTED["channel"]
    assert counts("Nguồn", 2) == EXPECTED["source"]
    assert {r[0]: r[1] for r in sheet("Nguồn")[1:]}["RFA Tiếng Việt"] == "Báo chí nước ngoài"
    assert counts("Mức nhạy cảm") == EXPECTED["sensitivity"]
    assert counts("Sai lệch") == EXPECTED["misleading"]
    assert counts("Tình hình xử lý") == EXPECTED["status"]
    assert counts("Cách xử lý") == EXPECTED["handling"]
    assert {r[0]: list(r[1:7]) for r in sheet("Tin nhạy cảm, sai lệch")[1:]} == (
        EXPECTED["flagged"]
    )
    top_rows = sheet("Câu chuyện nổi bật")
    assert top_rows[0][:4] == ["STT", "Tiêu đề", "Số nguồn đăng", "Số tin"]
    assert [(r[1], r[2], r[3]) for r in top_rows[1:4]] == EXPECTED["top"]
    assert len(top_rows) - 1 == EXPECTED["stories"]
    handled_rows = sheet("Tin đã xử lý")
    assert [r[2] for r in handled_rows[1:]] == EXPECTED["handled_titles"]
    by_title = {r[2]: r for r in handled_rows[1:]}
    share = by_title["Chia sẻ: “Người dân Vĩnh Long bị cấm sinh hoạt tôn giáo”"]
    assert share[6] == "Đã xử lý" and share[7] == H_CAI_CHINH
    rumour = by_title["Tin đồn xả lũ thủy điện làm ngập cả tỉnh Vĩnh Long"]
    assert rumour[4] == "Bình thường" and rumour[5] == "Không" and rumour[6] == "Bỏ qua"


def test_report_command_writes_both_files(store, tmp_path, monkeypatch):
    from diemtin.cli import app
    from diemtin.report_cli import register

    if not any(c.name == "report" for c in app.registered_commands):
        register(app)
    prof_path, _prof, _factory = store
    monkeypatch.setenv("DIEMTIN_DATABASE_URL", f"sqlite:///{tmp_path}/kho.db")
    out = tmp_path / "bao-cao"
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--from",
            "2026-10-01",
            "--to",
            "31/10/2026",
            "--profile",
            str(prof_path),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    docx = out / f"bao-cao-{prof_path.stem}-20261001-20261031.docx"
    xlsx = out / f"bao-cao-{prof_path.stem}-20261001-20261031.xlsx"
    assert docx.exists() and xlsx.exists()
    assert "17 tin" in result.output and str(docx) in result.output.replace("\n", "")
    wb = load_workbook(xlsx)
    assert {r[0]: r[1] for r in wb["Sắc thái"].iter_rows(min_row=2, values_only=True)} == (
        EXPECTED["tone"]
    )
    assert _as_counts(_docx_tables(docx)["SỐ TIN THEO SẮC THÁI"]) == EXPECTED["tone"]

    bad = CliRunner().invoke(
        app, ["report", "--from", "31/10/2026", "--to", "2026-10-01", "-p", str(prof_path)]
    )
    assert bad.exit_code != 0
    bad = CliRunner().invoke(
        app, ["report", "--from", "hôm qua", "--to", "2026-10-01", "-p", str(prof_path)]
    )
    assert bad.exit_code != 0


def test_xlsx_cells_from_scraped_titles_cannot_run_or_break_the_file(store, tmp_path):
    """A title that starts like a formula stays text; a control character (scraped pages carry
    them) no longer makes openpyxl refuse the whole workbook."""
    import dataclasses

    from openpyxl import load_workbook

    data = _report(store)
    assert data.top_stories
    hostile = '=HYPERLINK("http://evil.example","Sạt lở\x0b Cổ Chiên")'
    data.top_stories[0] = dataclasses.replace(data.top_stories[0], title=hostile)
    path = write_xlsx(data, tmp_path / "out" / "bao-cao.xlsx")
    values = [
        c.value for ws in load_workbook(path).worksheets for row in ws.iter_rows() for c in row
    ]
    assert '\'=HYPERLINK("http://evil.example","Sạt lở Cổ Chiên")' in values
    assert not any(isinstance(v, str) and v.startswith("=") for v in values)
