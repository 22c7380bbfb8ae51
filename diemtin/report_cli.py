"""`diemtin report --from DATE --to DATE`: the periodic report as DOCX and XLSX.

`register(app)` adds the command to the main Typer app (diemtin/cli.py calls it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)

_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y")


def parse_date(text: str, option: str) -> dt.date:
    """2026-10-31, 31/10/2026 or 31-10-2026."""
    for fmt in _FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise typer.BadParameter(
        f"không hiểu ngày {text!r} (ví dụ: 2026-10-31 hoặc 31/10/2026)", param_hint=option
    )


def report_cmd(
    ctx: typer.Context,
    start: str = typer.Option(..., "--from", help="Từ ngày (tính cả ngày này), ví dụ 2026-10-01."),
    end: str = typer.Option(..., "--to", help="Đến ngày (tính cả ngày này), ví dụ 2026-10-31."),
    profile: str | None = typer.Option(None, "--profile", "-p", help="Hồ sơ tỉnh."),
    out: Path | None = typer.Option(
        None, "--out", help="Thư mục lưu (mặc định: <dữ liệu>/reports)."
    ),
) -> None:
    """Báo cáo định kỳ (tháng, năm): thống kê theo chủ đề, sắc thái, kênh, nguồn; câu chuyện
    nổi bật; tình hình xử lý. Xuất DOCX và XLSX."""
    from zoneinfo import ZoneInfo

    from digest.report import build_report, default_thresholds, write_docx, write_xlsx
    from store.db import open_store
    from store.profile import ProfileError, load_profile

    settings = ctx.obj
    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    if last < first:
        raise typer.BadParameter("ngày kết thúc trước ngày bắt đầu", param_hint="--to")
    path = settings.profile_path(profile)
    try:
        prof, _problems = load_profile(path)
    except ProfileError as exc:
        err.print(f"[red]Hồ sơ tỉnh không dùng được:[/]\n{exc}")
        raise typer.Exit(2) from exc
    tz = ZoneInfo(getattr(prof, "timezone", None) or settings.timezone)
    # Topics as the digest shows them: the thresholds of the heads in use.
    heads = getattr(settings, "heads_dir", None)
    thresholds = default_thresholds(Path(heads) / "meta.json") if heads else None
    factory = open_store(settings.db_url)
    try:
        with factory() as session:
            data = build_report(
                session, prof, first, last, tz=tz, profile_name=path.stem, thresholds=thresholds
            )
    finally:
        factory.kw["bind"].dispose()
    folder = out or settings.data_dir / "reports"
    stem = f"bao-cao-{path.stem}-{first:%Y%m%d}-{last:%Y%m%d}"
    docx = write_docx(data, folder / f"{stem}.docx")
    xlsx = write_xlsx(data, folder / f"{stem}.xlsx")
    console.print(
        f"Báo cáo {data.province} từ {first:%d/%m/%Y} đến {last:%d/%m/%Y}: {data.total} tin "
        f"liên quan, {data.stories} câu chuyện, {data.unclassified} chưa phân loại, "
        f"{len(data.handled)} tin có quyết định xử lý.",
        highlight=False,
    )
    console.print(f"DOCX: {docx}", soft_wrap=True, highlight=False)
    console.print(f"XLSX: {xlsx}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    """Add `report` as a top-level command of `app`."""
    app.command("report")(report_cmd)
