"""A small, realistic store for the review app's tests, and signing in through the real form.

`make_world(url)` writes the demo profile's sources and a day of classified items (a misleading
flood rumour with its official denial, a sensitive sea-sovereignty post, a hostile foreign
article, ordinary local news, copies of one story in three outlets, and an item whose title and
text carry HTML/JS) with accounts for each role. Nothing is mocked: a real SQLite or PostgreSQL
database, the real app over FastAPI's TestClient (or a real uvicorn for the browser tests).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.accounts import add_user
from store.db import open_store
from store.models import Classification, Item, Source, Story
from store.profile import load_profile
from store.queries import sync_sources
from store.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
VN = ZoneInfo("Asia/Ho_Chi_Minh")
PASSWORDS = {
    "canbo": ("officer", "Nguyễn Thị Lan", "mật-khẩu-cán-bộ-2026"),
    "canbo2": ("officer", "Trần Văn Minh", "mật-khẩu-cán-bộ-thứ-hai"),
    "lanhdao": ("lead", "Lê Hoàng Phúc", "mật-khẩu-lãnh-đạo-2026"),
    "quantri": ("admin", "Phạm Quốc Bảo", "mật-khẩu-quản-trị-2026"),
}
XSS_TITLE = 'Tin nóng <script>alert("xss")</script> ở Cầu Ngang <img src=x onerror=alert(1)>'
XSS_TEXT = (
    "Người dân xã Cầu Ngang, tỉnh Vĩnh Long chia sẻ <b>clip</b> <script>alert(2)</script> "
    'kèm đường dẫn <a href="javascript:alert(3)">xem ngay</a> và '
    '<img src="x" onerror="alert(4)">. Chính quyền địa phương chưa lên tiếng.'
)


@dataclass
class World:
    url: str
    factory: sessionmaker[Session]
    settings: Settings
    profile_path: Path
    day: dt.date  # the digest day (local): the window is 07:00 the day before → 07:00 this day
    ids: dict[str, int] = field(default_factory=dict)  # name → item id
    stories: dict[str, int] = field(default_factory=dict)


def at(day: dt.date, hm: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hm), tzinfo=VN)


def make_world(url: str, data_dir: Path, *, day: dt.date | None = None) -> World:
    """Write the store (migrated), sources, stories, items, classifications and accounts."""
    day = day or dt.datetime.now(VN).date()
    y = day - dt.timedelta(days=1)
    profile_path = ROOT / "config" / "demo.yaml"
    profile, problems = load_profile(profile_path)
    assert not [p for p in problems if "error" in str(p).lower()], problems
    factory = open_store(url)
    settings = Settings(data_dir=data_dir, database_url=url, profile=str(profile_path))
    world = World(url, factory, settings, profile_path, day)
    with factory() as session:
        src = sync_sources(session, "demo", profile.sources)
        session.flush()

        def story(name: str, title: str, first: dt.datetime, outlets: list[str]) -> Story:
            st = Story(
                title=title,
                first_seen=first,
                last_seen=first,
                item_count=len(outlets),
                outlets=outlets,
                spread=[[o, first.isoformat()] for o in outlets],
            )
            session.add(st)
            session.flush()
            world.stories[name] = st.id
            return st

        def item(name, source, title, text, when, st=None, **labels) -> Item:
            story_id = st.id if st else None
            return write_item(
                session, world, name, src[source], title, text, when, story_id, **labels
            )

        denial = item(
            "denial",
            "baovinhlong",
            "UBND tỉnh Vĩnh Long bác bỏ thông tin vỡ đê biển ở Cầu Ngang",
            "Chiều 20/11, UBND tỉnh Vĩnh Long khẳng định đê biển ở xã Cầu Ngang vẫn an toàn, "
            "thông tin vỡ đê lan truyền trên mạng xã hội là sai sự thật. Lực lượng chức năng đang "
            "xác minh các tài khoản đăng tin.",
            at(y, "16:00"),
            topics={"tai_nan_thien_tai": 0.9, "chi_dao_dieu_hanh": 0.7},
            places=[_place("Vĩnh Long", "province"), _place("Cầu Ngang", "commune")],
        )
        rumour_story = story(
            "rumour",
            "KHẨN: VỠ ĐÊ BIỂN Ở CẦU NGANG (TRÀ VINH CŨ)!",
            at(y, "09:10"),
            ["tinnongmientay", "mientay24h"],
        )
        statement = {
            "item_id": denial.id,
            "source": "baovinhlong",
            "title": denial.title,
            "published_at": denial.published_at.isoformat(),
        }
        for name, source, title, hm in (
            ("rumour", "tinnongmientay", "⚡️ KHẨN: VỠ ĐÊ BIỂN Ở CẦU NGANG (TRÀ VINH CŨ)!", "09:10"),
            (
                "rumour_copy",
                "mientay24h",
                "Vo de bien o Cau Ngang, nguoi dan hoang mang (chia se lai)",
                "11:40",
            ),
        ):
            item(
                name,
                source,
                title,
                "Nghe nói đê biển ở Cầu Ngang (Trà Vinh cũ) vừa vỡ, nước tràn vào nhà dân, chính "
                "quyền im lặng??? Ai ở gần xác nhận giúp. Chia sẻ ngay để bà con biết!",
                at(y, hm),
                rumour_story,
                topics={"tai_nan_thien_tai": 0.93},
                tone="tieu_cuc",
                tone_scores={"tieu_cuc": 0.88, "trung_lap": 0.1},
                sensitivity="nhay_cam",
                reasons=["Tin sai lệch về thiên tai lan trên mạng xã hội"],
                misleading="sai_lech",
                misleading_score=0.86,
                evidence={
                    "claim": title,
                    "statement": statement,
                    "similarity": 0.71,
                    "shared": ["đê biển", "cầu ngang"],
                    "model_score": 0.81,
                    "why": "khớp với thông tin bác bỏ/cải chính chính thức",
                },
                rules=[
                    {
                        "rule": "tin_don",
                        "label": "Tin đồn, chưa kiểm chứng",
                        "phrase": "nghe nói",
                        "effect": "misleading",
                        "topic": None,
                    },
                    {
                        "rule": "thien_tai",
                        "label": "Thiên tai",
                        "phrase": "vỡ đê",
                        "effect": "topic",
                        "topic": "tai_nan_thien_tai",
                    },
                ],
                places=[_place("Cầu Ngang", "commune", old=True), _place("Vĩnh Long", "province")],
                why=["Tiêu đề nêu «Cầu Ngang» (Trà Vinh cũ, nay thuộc Vĩnh Long)"],
            )
        item(
            "sovereignty",
            "diendan",
            "Bản đồ du lịch biển Vĩnh Long thiếu Hoàng Sa, Trường Sa?",
            "Một tài khoản trên diễn đàn đăng bản đồ du lịch biển Ba Động, Vĩnh Long, trong đó "
            "không thể hiện quần đảo Hoàng Sa và Trường Sa. Nhiều người bình luận yêu cầu "
            "xác minh.",
            at(y, "13:20"),
            topics={"chu_quyen_bien_dao": 0.91, "du_lich_van_hoa": 0.6},
            tone="tieu_cuc",
            sensitivity="nhay_cam",
            reasons=["Chủ quyền biển, đảo: bản đồ thiếu Hoàng Sa, Trường Sa"],
            misleading="chua_kiem_chung",
            misleading_score=0.55,
            evidence={
                "claim": "Bản đồ du lịch biển Vĩnh Long thiếu Hoàng Sa, Trường Sa?",
                "model_score": 0.55,
                "why": "chưa có nguồn báo chí hoặc chính thống nào xác nhận trong 3 ngày",
            },
        )
        item(
            "foreign",
            "mekongobserver",
            "Vinh Long farmers protest land compensation for coastal wind farm",
            "Dozens of farmers in Vinh Long province gathered on Thursday to protest what they "
            "called unfair compensation for land taken for a coastal wind farm project.",
            at(y, "20:05"),
            language="en",
            topics={"dat_dai_khieu_kien": 0.88, "dau_tu_kinh_te": 0.5},
            tone="tieu_cuc",
            sensitivity="can_chu_y",
            reasons=["Báo nước ngoài nêu khiếu kiện đất đai"],
            author="Jane Doe",
        )
        bridge = story(
            "bridge",
            "Khởi công cầu Đình Khao nối Vĩnh Long với Bến Tre cũ",
            at(y, "08:00"),
            ["baovinhlong", "tinnhanh", "thoibao"],
        )
        for name, source, hm in (
            ("bridge_1", "baovinhlong", "08:00"),
            ("bridge_2", "tinnhanh", "09:30"),
            ("bridge_3", "thoibao", "10:45"),
        ):
            item(
                name,
                source,
                "Khởi công cầu Đình Khao nối Vĩnh Long với Bến Tre cũ",
                "Sáng 20/11, tỉnh Vĩnh Long khởi công cầu Đình Khao bắc qua sông Cổ Chiên. Dự án "
                "có tổng vốn hơn 1.500 tỉ đồng, dự kiến hoàn thành năm 2028.",
                at(y, hm),
                bridge,
                topics={"dau_tu_kinh_te": 0.95},
                tone="tich_cuc",
                tone_scores={"tich_cuc": 0.9},
            )
        item(
            "xss",
            "mientay24h",
            XSS_TITLE,
            XSS_TEXT,
            at(y, "18:30"),
            url="https://mientay24h.example.vn/bai-xss.html?a=1&b=<x>",
            topics={"an_ninh_trat_tu": 0.7},
            tone="tieu_cuc",
            sensitivity="can_chu_y",
            reasons=["Nội dung <b>kích động</b> <script>alert(6)</script>"],
        )
        item(
            "ordinary",
            "baohong",
            "Vĩnh Long: nông dân Trà Ôn trúng mùa bưởi Năm Roi",
            "Nông dân xã Trà Ôn, tỉnh Vĩnh Long thu hoạch bưởi Năm Roi với giá cao hơn năm trước.",
            at(y, "15:00"),
            topics={"dau_tu_kinh_te": 0.6},
            tone="tich_cuc",
        )
        item(
            "other_province",
            "tinnhanh",
            "Cần Thơ khai mạc lễ hội bánh dân gian Nam Bộ",
            "Lễ hội diễn ra tại công viên sông Hậu, thành phố Cần Thơ.",
            at(y, "12:00"),
            relevant=False,
            places=[],
            why=["Bài chủ yếu nói về Cần Thơ"],
        )
        for username, (role, name, password) in PASSWORDS.items():
            add_user(session, username, password, role=role, display_name=name, by="test")
        session.commit()
    return world


def write_item(
    session: Session,
    world: World,
    name: str,
    source: Source,
    title: str,
    text: str,
    when: dt.datetime,
    story_id: int | None = None,
    **labels,
) -> Item:
    """One item from `source` with its classification (`labels` override the defaults: an
    ordinary relevant item about Vĩnh Long), registered in `world.ids` under `name`."""
    n = len(world.ids) + 1
    it = Item(
        url=labels.pop("url", None) or f"https://{source.name}.example.vn/bai-{n}.html",
        source_id=source.id,
        kind=source.kind,
        language=labels.pop("language", "vi"),
        title=title,
        text=text,
        author=labels.pop("author", None),
        published_at=when,
        fetched_at=when + dt.timedelta(minutes=5),
        content_hash=hashlib.sha256(f"{n}{title}".encode()).hexdigest(),
        title_key=hashlib.sha1(f"{n}{title}".encode()).hexdigest()[:16],
    )
    session.add(it)
    session.flush()
    session.add(
        Classification(
            item_id=it.id,
            relevant=labels.get("relevant", True),
            relevance=0.9,
            places=labels.get("places", [_place("Vĩnh Long", "province")]),
            relevance_reasons=labels.get("why", ["Tiêu đề nêu «Vĩnh Long»"]),
            story_id=story_id,
            topics=labels.get("topics", {}),
            tone=labels.get("tone", "trung_lap"),
            tone_scores=labels.get("tone_scores", {"trung_lap": 0.6}),
            sensitivity=labels.get("sensitivity", "binh_thuong"),
            sensitivity_reasons=labels.get("reasons", []),
            misleading=labels.get("misleading", "khong"),
            misleading_score=labels.get("misleading_score", 0.0),
            misleading_evidence=labels.get("evidence", {}),
            rules_fired=labels.get("rules", []),
            model_version="test-1",
        )
    )
    world.ids[name] = it.id
    return it


def add_item(
    world: World, name: str, source: str, title: str, when: dt.datetime, text: str = "", **labels
) -> int:
    """One more item in a built world (for the edges it does not cover); its id."""
    with world.factory() as session:
        src = session.scalar(select(Source).where(Source.name == source))
        item_id = write_item(session, world, name, src, title, text or title, when, **labels).id
        session.commit()
    return item_id


def _place(name: str, level: str, old: bool = False) -> dict:
    return {
        "code": name.lower().replace(" ", "_"),
        "name": name,
        "level": level,
        "is_old": old,
        "province_code": "vinh_long",
        "mentions": 1,
        "named": True,
    }


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def sign_in(client, username: str, password: str | None = None):
    """Sign in through the real form (GET /login for the token, then POST); returns the
    response of the POST (303 on success)."""
    password = password if password is not None else PASSWORDS[username][2]
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_of(page.text),
            "next": "/queue",
        },
        follow_redirects=False,
    )


def app_client(world: World, username: str | None = None):
    """A TestClient on the real app over `world`'s store, signed in as `username` if given."""
    from fastapi.testclient import TestClient

    from review.app import create_app

    client = TestClient(create_app(world.settings, factory=world.factory, profile_name="demo"))
    if username:
        r = sign_in(client, username)
        assert r.status_code == 303, r.text
    return client


def form_post(client, page_url: str, action: str, data: dict, **kw):
    """POST a form the way a browser would: the CSRF token taken from `page_url`."""
    token = csrf_of(client.get(page_url).text)
    return client.post(action, data={**data, "csrf_token": token}, follow_redirects=False, **kw)
