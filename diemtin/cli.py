"""`diemtin`: one command line for every stage. Vietnamese help, English option names."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from store.profile import ProfileError, load_profile, parse_duration
from store.settings import Settings, load_settings
from store.taxonomy import CHANNEL_VI

app = typer.Typer(
    help="Điểm tin — theo dõi báo chí, mạng xã hội về tỉnh và lập điểm tin hằng ngày.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
sources_app = typer.Typer(help="Các nguồn tin trong hồ sơ tỉnh.", no_args_is_help=True)
items_app = typer.Typer(help="Tin bài trong kho.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
app.add_typer(items_app, name="items")

console = Console()
err = Console(stderr=True)

STATUS_VI = {
    "ok": "[green]tốt[/]",
    "partial": "[yellow]có lỗi[/]",
    "error": "[red]hỏng[/]",
    "not_modified": "[green]không đổi[/]",
}


@app.callback()
def main(
    ctx: typer.Context,
    config: Path | None = typer.Option(None, "--config", help="Tệp cấu hình TOML."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Thư mục dữ liệu."),
    database_url: str | None = typer.Option(None, "--database-url", help="Địa chỉ CSDL."),
) -> None:
    """Điểm tin — theo dõi báo chí, mạng xã hội về tỉnh và lập điểm tin hằng ngày."""
    ctx.obj = load_settings(config, data_dir=data_dir, database_url=database_url)


def _profile(settings: Settings, name: str | None):
    path = settings.profile_path(name)
    try:
        profile, problems = load_profile(path)
    except ProfileError as exc:
        err.print(f"[red]Hồ sơ tỉnh không dùng được:[/]\n{exc}")
        raise typer.Exit(2) from exc
    for p in problems:
        err.print(f"[yellow]Bỏ qua một nguồn lỗi cấu hình[/] {p}")
    return path, profile, problems


def _summary_table(result) -> Table:
    table = Table(title=f"Kết quả thu thập (lượt #{result.run_id or '—'})")
    for col in (
        "Nguồn",
        "Loại",
        "Trạng thái",
        "Trang",
        "Mới",
        "Cập nhật",
        "Bỏ qua",
        "Loại bỏ",
        "Lỗi",
    ):
        table.add_column(col, overflow="fold")
    for s in result.sources:
        st = s.stats
        table.add_row(
            s.name,
            CHANNEL_VI.get(s.kind, s.kind),
            STATUS_VI.get(s.status, s.status),
            str(st.pages),
            str(st.new),
            str(st.updated),
            str(st.skipped),
            str(st.dropped),
            str(len(st.errors)),
        )
    return table


def _print_summary(result, problems=()) -> None:
    """The table, then every error on its own line, then config problems."""
    console.print(_summary_table(result))
    for s in result.sources:
        for e in s.stats.errors:
            console.print(f"[red]Lỗi[/] {s.name}: {e['error']} — {e['url']}", soft_wrap=True)
    for p in problems:
        console.print(f"[red]Lỗi cấu hình[/] {p}", soft_wrap=True)


def run_crawl(
    settings: Settings, profile, profile_name: str, *, only=None, since=None, dry_run=False
):
    """Crawl with a progress bar; return the result."""
    from crawlers.run import crawl

    counts = {"page": 0, "new": 0, "updated": 0, "error": 0}
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("Đang thu thập…")

        def on_event(kind: str, source: str) -> None:
            if kind in counts:
                counts[kind] += 1
            progress.update(
                task,
                description=(
                    f"Đang thu thập [bold]{source}[/] · {counts['page']} trang · "
                    f"{counts['new']} bài mới · {counts['updated']} cập nhật · "
                    f"{counts['error']} lỗi"
                ),
            )

        return crawl(
            settings,
            profile,
            profile_name,
            only=only,
            since=since,
            dry_run=dry_run,
            on_event=on_event,
        )


@app.command("crawl")
def crawl_cmd(
    ctx: typer.Context,
    profile: str | None = typer.Option(None, "--profile", "-p", help="Hồ sơ tỉnh (tên hoặc tệp)."),
    source: list[str] = typer.Option([], "--source", "-s", help="Chỉ thu thập nguồn này."),
    since: str | None = typer.Option(None, "--since", help="Chỉ lấy tin mới hơn, ví dụ 2d, 12h."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Tải và trích xuất, không ghi kho."),
) -> None:
    """Thu thập tin bài từ các nguồn trong hồ sơ tỉnh."""
    from crawlers.run import CrawlLocked

    settings: Settings = ctx.obj
    path, prof, problems = _profile(settings, profile)
    try:
        window = parse_duration(since) if since else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from exc
    try:
        result = run_crawl(
            settings, prof, path.stem, only=source or None, since=window, dry_run=dry_run
        )
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="--source") from exc
    except CrawlLocked as exc:
        err.print(f"[yellow]Bỏ qua:[/] {exc}.")
        raise typer.Exit(0) from exc
    _print_summary(result, problems)
    if dry_run:
        console.print(f"Chạy thử: {result.new} bài sẽ được ghi (không ghi gì vào kho).")
    if result.failed:
        names = ", ".join(s.name for s in result.failed)
        console.print(f"[yellow]Nguồn có lỗi:[/] {names}")
    if result.status == "failed":
        raise typer.Exit(1)


@sources_app.command("list")
def sources_list(
    ctx: typer.Context,
    profile: str | None = typer.Option(None, "--profile", "-p", help="Hồ sơ tỉnh."),
) -> None:
    """Liệt kê các nguồn và tình trạng gần đây."""
    settings: Settings = ctx.obj
    _path, prof, problems = _profile(settings, profile)
    health, paused = {}, set()
    if Path(settings.db_url.split("///", 1)[-1]).exists() or settings.database_url:
        from store.db import open_store
        from store.queries import paused_sources, source_health

        with open_store(settings.db_url)() as session:
            health = {h["name"]: h for h in source_health(session)}
            paused = paused_sources(session)
    table = Table(title=f"Nguồn tin — {prof.province.name}")
    for col in (
        "Nguồn",
        "Tên",
        "Loại",
        "Cách lấy",
        "Chu kỳ",
        "Đã kiểm tra",
        "Lần tốt gần nhất",
        "Tỉ lệ lỗi",
    ):
        table.add_column(col, overflow="fold")
    for s in prof.sources:
        h = health.get(s.name, {})
        last = h.get("last_success")
        rate = h.get("error_rate")
        table.add_row(
            s.name + (" [yellow](tạm dừng)[/]" if s.name in paused else ""),
            s.title,
            CHANNEL_VI[s.kind],
            s.type,
            s.interval,
            "có" if s.verified else "[yellow]chưa[/]",
            last.strftime("%d/%m %H:%M") if last else "—",
            f"{rate:.0%}" if rate is not None else "—",
        )
    console.print(table)
    for p in problems:
        console.print(f"[red]Lỗi cấu hình:[/] {p}")


@sources_app.command("check")
def sources_check(
    ctx: typer.Context,
    profile: str | None = typer.Option(None, "--profile", "-p", help="Hồ sơ tỉnh."),
    source: list[str] = typer.Option([], "--source", "-s", help="Chỉ kiểm tra nguồn này."),
    write: bool = typer.Option(False, "--write", help="Ghi 'verified: true' vào hồ sơ."),
    timeout: float = typer.Option(20.0, "--timeout", help="Giây chờ mỗi địa chỉ."),
) -> None:
    """Kiểm tra từng địa chỉ nguồn có truy cập được và đúng loại không."""
    from crawlers.check import check_source
    from store.profile import mark_verified

    settings: Settings = ctx.obj
    path, prof, _ = _profile(settings, profile)
    table = Table(title="Kiểm tra nguồn")
    for col in ("Nguồn", "Địa chỉ", "Kết quả", "Chi tiết"):
        table.add_column(col, overflow="fold")
    good, bad = set(), set()
    for s in prof.sources:
        if (source and s.name not in source) or s.type == "import":
            continue
        results = check_source(s, settings.crawl.user_agent, timeout)
        for r in results:
            table.add_row(r.source, r.url, "[green]được[/]" if r.ok else "[red]không[/]", r.detail)
        (good if results and all(r.ok for r in results) else bad).add(s.name)
    console.print(table)
    if write and good:
        n = mark_verified(path, good)
        console.print(f"Đã đánh dấu {n} nguồn là đã kiểm tra trong {path}.")
    if bad:
        raise typer.Exit(1)


@items_app.command("search")
def items_search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="Từ khóa (có hoặc không dấu)."),
    since: str | None = typer.Option(None, "--since", help="Chỉ tin mới hơn, ví dụ 7d."),
    source: list[str] = typer.Option([], "--source", "-s", help="Chỉ nguồn này."),
    limit: int = typer.Option(20, "--limit", help="Số kết quả tối đa."),
    as_json: bool = typer.Option(False, "--json", help="In kết quả dạng JSON."),
) -> None:
    """Tìm kiếm toàn văn trong kho tin bài."""
    from store.db import open_store
    from store.models import utcnow
    from store.search import search_items

    settings: Settings = ctx.obj
    after = utcnow() - parse_duration(since) if since else None
    with open_store(settings.db_url)() as session:
        hits = search_items(session, query, since=after, source=source or None, limit=limit)
    if as_json:
        rows = [
            {
                "id": h.id,
                "url": h.url,
                "title": h.title,
                "source": h.source,
                "kind": h.kind,
                "published_at": h.published_at.astimezone(_tz(settings)).isoformat()
                if h.published_at
                else None,
                "snippet": h.snippet,
            }
            for h in hits
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=f"Kết quả tìm “{query}”: {len(hits)}")
    for col in ("Thời gian", "Nguồn", "Tiêu đề", "Trích đoạn"):
        table.add_column(col, overflow="fold")
    for h in hits:
        when = (
            h.published_at.astimezone(_tz(settings)).strftime("%d/%m %H:%M")
            if h.published_at
            else "—"
        )
        table.add_row(when, h.source, f"[link={h.url}]{h.title}[/link]", h.snippet)
    console.print(table)


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, readable=True, help="Tệp CSV hoặc JSONL."),
    source: str = typer.Option(..., "--source", "-s", help="Nguồn (kiểu import) trong hồ sơ."),
    profile: str | None = typer.Option(None, "--profile", "-p", help="Hồ sơ tỉnh."),
) -> None:
    """Nhập bài đăng mạng xã hội đã xuất (Facebook, TikTok) từ tệp CSV/JSONL."""
    from crawlers.importer import import_posts
    from store.db import open_store
    from store.queries import sync_sources

    settings: Settings = ctx.obj
    path, prof, _ = _profile(settings, profile)
    try:
        prof.source(source)
    except KeyError as exc:
        raise typer.BadParameter(f"không có nguồn {source}", param_hint="--source") from exc
    factory = open_store(settings.db_url)
    with factory() as session:
        rows = sync_sources(session, path.stem, prof.sources)
        session.commit()
    result = import_posts(factory, rows[source], file)
    console.print(
        f"Đã đọc {result.rows} dòng: {result.new} mới, {result.updated} cập nhật, "
        f"{result.unchanged} không đổi, {result.duplicate} trùng, "
        f"{len(result.errors)} lỗi."
    )
    for e in result.errors[:20]:
        console.print(f"[yellow]{e}[/]")


DEMO_USER = "demo"


@app.command("demo")
def demo_cmd(
    ctx: typer.Context,
    port: int = typer.Option(8765, "--port", help="Cổng của mạng tin mẫu (0: cổng bất kỳ)."),
    serve: bool = typer.Option(False, "--serve", help="Chỉ phục vụ mạng tin mẫu, đến khi Ctrl+C."),
) -> None:
    """Chạy mạng tin mẫu trên máy, thu thập vào kho và in những gì đã tạo ra."""
    from crawlers.demo.server import DemoNetwork

    settings: Settings = ctx.obj
    with DemoNetwork(port=port) as network:
        os.environ["DIEMTIN_DEMO_URL"] = network.base_url
        console.print(f"Mạng tin mẫu: {network.base_url}")
        if serve:
            import time

            console.print("Nhấn Ctrl+C để dừng.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return
        path, prof, problems = _profile(settings, "demo")
        result = run_crawl(settings, prof, path.stem)
    _print_summary(result, problems)
    from sqlalchemy import func, select

    from store.db import open_store
    from store.models import Item

    with open_store(settings.db_url)() as session:
        total = session.scalar(select(func.count(Item.id)))
    console.print(f"Kho: {settings.db_url} — {total} tin bài ({result.new} mới trong lượt này).")
    done = run_classify(settings, prof)
    console.print(
        f"Phân loại: {done.seen} tin, {done.relevant} liên quan đến {prof.province.name}, "
        f"{done.stories_new} câu chuyện mới."
    )
    _print_flagged(settings)
    _demo_digest(settings, prof)
    _demo_account(settings)


def _demo_account(settings: Settings) -> None:
    """The demo's own account (admin), with a fresh random password printed once: there is no
    default password anywhere, in the demo either."""
    import secrets

    from store.accounts import add_user, find_user, set_password
    from store.db import open_store, session_scope

    password = secrets.token_urlsafe(12)
    with session_scope(open_store(settings.db_url)) as session:
        if find_user(session, DEMO_USER):
            set_password(session, DEMO_USER, password, by="demo")
        else:
            add_user(
                session, DEMO_USER, password, role="admin", display_name="Tài khoản thử", by="demo"
            )
    console.print(
        "Trang duyệt tin: chạy [bold]diemtin web[/] rồi mở http://127.0.0.1:8080/ — "
        f"tài khoản [bold]{DEMO_USER}[/], mật khẩu [bold]{password}[/] (đổi ở mỗi lần chạy demo).",
        soft_wrap=True,
    )


def _demo_digest(settings: Settings, prof) -> None:
    """Build today's digest from what the demo produced and print where it is."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from digest.build import build_digest
    from store.db import open_store

    today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    result = build_digest(open_store(settings.db_url), prof, "demo", today, settings)
    console.print(f"[bold]Điểm tin số {result.number}, ngày {today:%d/%m/%Y}[/]: {result.subject}")
    for fmt, path in result.files.items():
        console.print(f"  {fmt}: {path}", soft_wrap=True)
    for warning in getattr(result, "warnings", []) or []:
        console.print(f"[yellow]{warning}[/]")
    html = result.files.get("html")
    if html:
        console.print(f"Điểm tin hôm nay: {html}", soft_wrap=True)


def _print_flagged(settings: Settings, limit: int = 15) -> None:
    """The items an officer should look at first: sensitive or misleading, most severe first."""
    from sqlalchemy import case, or_, select

    from store.db import open_store
    from store.models import Classification, Item, Source
    from store.taxonomy import LEVEL_VI, MISLEADING_VI

    severity = case(
        (Classification.sensitivity == "nhay_cam", 2),
        (Classification.sensitivity == "can_chu_y", 1),
        else_=0,
    )
    with open_store(settings.db_url)() as session:
        rows = session.execute(
            select(
                Item.id,
                Item.title,
                Source.name,
                Classification.sensitivity,
                Classification.misleading,
            )
            .join(Classification, Classification.item_id == Item.id)
            .join(Source, Source.id == Item.source_id)
            .where(
                Classification.relevant.is_(True),
                or_(
                    Classification.sensitivity != "binh_thuong",
                    Classification.misleading != "khong",
                ),
            )
            .order_by(severity.desc(), Item.published_at.desc())
            .limit(limit)
        ).all()
    table = Table(title="Tin cần chú ý (xem chi tiết: diemtin classify explain MÃ)")
    for col in ("Mã", "Nguồn", "Tiêu đề", "Mức", "Sai lệch"):
        table.add_column(col, overflow="fold")
    for item_id, title, source, level, misleading in rows:
        table.add_row(
            str(item_id),
            source,
            title,
            LEVEL_VI.get(level or "", level or ""),
            MISLEADING_VI.get(misleading, misleading),
        )
    console.print(table)


def _tz(settings: Settings):
    from zoneinfo import ZoneInfo

    return ZoneInfo(settings.timezone)


# ── classify ─────────────────────────────────────────────────────────────────────────────────

classify_app = typer.Typer(
    help="Phân loại: liên quan, câu chuyện, chủ đề, sắc thái, mức nhạy cảm, sai lệch.",
    invoke_without_command=True,
)
app.add_typer(classify_app, name="classify")


def run_classify(settings: Settings, prof, *, since=None, reclassify=False):
    """Classify with a progress bar; return the result."""
    from rich.progress import BarColumn, MofNCompleteColumn

    from classify.pipeline import Classifier
    from store.db import open_store

    factory = open_store(settings.db_url)
    clf = Classifier(prof, cache_dir=settings.data_dir / "models", threads=settings.threads)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("Phân loại…", total=None)
        names = {"relevance": "Xét mức liên quan", "encoder": "Mã hóa văn bản"}

        def on_progress(step: str, done: int, total: int) -> None:
            progress.update(task, description=names.get(step, step), completed=done, total=total)

        return clf.run(factory, since=since, reclassify=reclassify, progress=on_progress)


@classify_app.callback()
def classify_cmd(
    ctx: typer.Context,
    profile: str | None = typer.Option(None, "--profile", "-p", help="Hồ sơ tỉnh."),
    since: str | None = typer.Option(None, "--since", help="Chỉ tin mới hơn, ví dụ 2d."),
    reclassify: bool = typer.Option(False, "--reclassify", help="Phân loại lại cả tin đã có."),
) -> None:
    """Phân loại các tin bài trong kho (chạy khi không có lệnh con)."""
    if ctx.invoked_subcommand is not None:
        return
    from store.models import utcnow

    settings: Settings = ctx.obj
    _path, prof, _ = _profile(settings, profile)
    after = utcnow() - parse_duration(since) if since else None
    result = run_classify(settings, prof, since=after, reclassify=reclassify)
    levels = ", ".join(f"{k}: {v}" for k, v in sorted(result.by_level.items()))
    console.print(
        f"Đã phân loại {result.seen} tin: {result.relevant} liên quan đến "
        f"{prof.province.name}, {result.stories_new} câu chuyện mới; "
        f"mức nhạy cảm — {levels or '—'}."
        f"\nPhiên bản mô hình: {result.model_version}"
    )


@classify_app.command("train")
def classify_train(
    ctx: typer.Context,
    train: Path = typer.Option(None, "--train", help="JSONL huấn luyện (mặc định: tập mẫu)."),
    dev: Path = typer.Option(None, "--dev", help="JSONL kiểm định (mặc định: tập mẫu)."),
    out: Path = typer.Option(None, "--out", help="Thư mục lưu mô hình."),
    with_reviews: bool = typer.Option(
        False, "--with-reviews", help="Thêm quyết định của cán bộ trong kho làm dữ liệu."
    ),
) -> None:
    """Huấn luyện các đầu phân loại trên bộ mã hóa."""
    from classify.encoder import Encoder
    from classify.train import SEED_DIR, load_rows
    from classify.train import train as do_train

    settings: Settings = ctx.obj
    train_rows = load_rows(train or SEED_DIR / "train.jsonl")
    dev_rows = load_rows(dev or SEED_DIR / "dev.jsonl")
    extra = []
    if with_reviews:
        from classify.reviews import review_rows
        from store.db import open_store

        with open_store(settings.db_url)() as session:
            extra = review_rows(session)
        console.print(f"Thêm {len(extra)} quyết định của cán bộ vào dữ liệu huấn luyện.")
    out = out or settings.data_dir / "models" / "heads"
    encoder = Encoder(cache_dir=settings.data_dir / "models", threads=settings.threads)
    result = do_train(train_rows, dev_rows, encoder, out_dir=out, extra_rows=extra)
    console.print(f"Đã lưu mô hình {result.version} vào {out}")
    console.print(
        "Dùng mô hình này: đặt DIEMTIN_HEADS_DIR=" + str(out) + " (mặc định là mô hình kèm theo)."
    )


@classify_app.command("eval")
def classify_eval(
    ctx: typer.Context,
    file: Path = typer.Argument(None, help="JSONL có nhãn (mặc định: tập kiểm tra mẫu)."),
    heads_dir: Path = typer.Option(None, "--heads", help="Thư mục mô hình."),
) -> None:
    """Đánh giá: độ chính xác, độ phủ, F1 theo nhãn và ma trận nhầm lẫn."""
    from classify.encoder import Encoder
    from classify.evaluate import evaluate, format_report
    from classify.heads import Heads
    from classify.pipeline import DEFAULT_HEADS
    from classify.train import SEED_DIR, load_rows

    settings: Settings = ctx.obj
    rows = load_rows(file or SEED_DIR / "test.jsonl")
    heads = Heads.load(heads_dir or settings.heads_dir or DEFAULT_HEADS)
    encoder = Encoder(cache_dir=settings.data_dir / "models", threads=settings.threads)
    sys.stdout.write(format_report(evaluate(heads, rows, encoder)) + "\n")


@classify_app.command("explain")
def classify_explain(
    ctx: typer.Context,
    item: str = typer.Argument(..., help="Mã tin (số) hoặc địa chỉ bài."),
) -> None:
    """Giải thích vì sao một tin được phân loại như vậy."""
    from classify.explain import explain
    from store.db import open_store

    settings: Settings = ctx.obj
    with open_store(settings.db_url)() as session:
        text = explain(session, item, tz=_tz(settings))
    if text is None:
        err.print(f"[red]Không tìm thấy tin[/] {item}, hoặc tin chưa được phân loại.")
        raise typer.Exit(1)
    console.print(text, soft_wrap=True, highlight=False)


def _register_stages() -> None:
    """Digest, delivery, scheduling and report commands live beside their stages' CLIs."""
    from diemtin import digest_cli, report_cli, users_cli

    digest_cli.register(app)
    report_cli.register(app)
    users_cli.register(app)


_register_stages()
