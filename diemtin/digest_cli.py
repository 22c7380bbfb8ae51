"""`diemtin digest build|send|show`, and the top-level `run`, `schedule` and `serve`.

`register(app)` adds them to the main Typer app (diemtin/cli.py calls it once); it is
idempotent. `python -m diemtin.digest_cli …` runs the main app with them registered.

Exit codes: 0 done; 1 a permanent delivery failure or a step that crashed; 2 bad input (no
recipients, unknown date, bad profile); 75 (EX_TEMPFAIL) something is still owed after
transient errors, or another process holds the lock: the next run will finish it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import typer
from rich.table import Table

digest_app = typer.Typer(
    help="Điểm tin báo chí hằng ngày: lập, xem, gửi.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

STATUS_VI = {
    "built": "đã lập",
    "approved": "đã duyệt",
    "sending": "đang gửi",
    "sent": "đã gửi",
    "failed": "gửi lỗi",
    "pending": "chờ gửi",
}
STATUS_STYLE = {"sent": "green", "failed": "red", "pending": "yellow", "sending": "yellow"}


def _cli():
    """The main CLI module, imported late: it imports this one to register the commands."""
    from diemtin import cli

    return cli


def _config_file(ctx: typer.Context) -> Path | None:
    return ctx.find_root().params.get("config")


def _factory(settings):
    from store.db import open_store

    return open_store(settings.db_url)


def parse_day(text: str | None, tz) -> dt.date:
    """YYYY-MM-DD, DD/MM/YYYY, 'hom-nay'/'today' (default) or 'hom-qua'/'yesterday'."""
    today = dt.datetime.now(tz).date()
    if not text or text.lower() in ("today", "hom-nay", "homnay"):
        return today
    if text.lower() in ("yesterday", "hom-qua", "homqua"):
        return today - dt.timedelta(days=1)
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise typer.BadParameter(f"không hiểu ngày {text!r} (ví dụ: 2025-07-15 hoặc 15/07/2025)")


def _setup(ctx: typer.Context, profile: str | None, day_text: str | None):
    from zoneinfo import ZoneInfo

    settings = ctx.obj
    path, prof, _ = _cli()._profile(settings, profile)
    try:
        day = parse_day(day_text, ZoneInfo(prof.timezone))
    except typer.BadParameter as exc:
        raise typer.BadParameter(str(exc), param_hint="--date") from exc
    return settings, path, prof, day


def _ledger_table(rows, tz) -> Table:
    table = Table(title="Sổ gửi thư")
    errors = any(r.last_error for r in rows)
    table.add_column("Người nhận", overflow="fold", min_width=18)
    table.add_column("Lượt", no_wrap=True)
    table.add_column("Trạng thái", no_wrap=True)
    table.add_column("Thử", justify="right", no_wrap=True)
    table.add_column("Gửi lúc", no_wrap=True)
    if errors:
        table.add_column("Lỗi gần nhất", overflow="fold", min_width=16)
    for r in rows:
        style = STATUS_STYLE.get(r.status, "")
        cells = [
            r.recipient,
            f"gửi lại {r.resend}" if r.resend else "lần đầu",
            f"[{style}]{STATUS_VI.get(r.status, r.status)}[/]" if style else r.status,
            str(r.attempts),
            r.sent_at.astimezone(tz).strftime("%H:%M %d/%m") if r.sent_at else "—",
        ]
        table.add_row(*cells, *([r.last_error or ""] if errors else []))
    return table


# ── digest build / send / show ───────────────────────────────────────────────────────────────


@digest_app.command("build")
def build_cmd(
    ctx: typer.Context,
    day_text: str | None = typer.Option(
        None, "--date", "-d", help="Ngày của điểm tin (YYYY-MM-DD; mặc định: hôm nay)."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Chép các tệp vào thư mục này."),
    profile: str | None = typer.Option(None, "--profile", "-p", help="Hồ sơ tỉnh."),
) -> None:
    """Lập điểm tin (HTML, văn bản, DOCX, PDF nếu có) và in đường dẫn các tệp."""
    from digest.build import build_digest

    cli = _cli()
    settings, path, prof, day = _setup(ctx, profile, day_text)
    result = build_digest(_factory(settings), prof, path.stem, day, settings)
    cli.err.print(
        f"Điểm tin số {result.number} ngày {day:%d/%m/%Y} — {prof.province.name}"
        + (" (giữ nguyên, không lập lại)" if getattr(result, "frozen", False) else ""),
        highlight=False,
    )
    for w in getattr(result, "warnings", []) or []:
        cli.err.print(f"[yellow]Lưu ý:[/] {w}", soft_wrap=True, highlight=False)
    _print_files(result.files, out)


def _print_files(files: dict, out: Path | None) -> None:
    """One `kind<TAB>path` line per file (copied into `out` first when given)."""
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for kind, p in files.items():
        src = Path(p)
        dest = src
        if out is not None and src.exists():
            dest = out / src.name
            if dest.resolve() != src.resolve():
                shutil.copy2(src, dest)
        sys.stdout.write(f"{kind}\t{dest.resolve()}\n")
    sys.stdout.flush()


@digest_app.command("send")
def send_cmd(
    ctx: typer.Context,
    day_text: str | None = typer.Option(
        None, "--date", "-d", help="Ngày của điểm tin (YYYY-MM-DD; mặc định: hôm nay)."
    ),
    resend: bool = typer.Option(
        False, "--resend", help="Gửi lại cho mọi người nhận dù đã gửi (chủ ý, ghi vào sổ)."
    ),
    profile: str | None = typer.Option(None, "--profile", "-p", help="Hồ sơ tỉnh."),
) -> None:
    """Gửi điểm tin qua e-mail; người đã nhận không nhận lại (trừ khi --resend)."""
    from zoneinfo import ZoneInfo

    from digest.deliver import DeliveryError, ledger, send_digest
    from digest.smtp import EX_TEMPFAIL, SendBusy

    cli = _cli()
    settings, path, prof, day = _setup(ctx, profile, day_text)
    factory = _factory(settings)
    try:
        result = send_digest(factory, settings, prof, path.stem, day, resend=resend)
    except DeliveryError as exc:
        cli.err.print(f"[red]Không gửi được:[/] {exc}")
        raise typer.Exit(2) from exc
    except SendBusy as exc:
        cli.err.print(f"[yellow]Bỏ qua:[/] {exc}.")
        raise typer.Exit(EX_TEMPFAIL) from exc
    with factory() as session:
        rows = ledger(session, result.digest_id)
    cli.console.print(_ledger_table(rows, ZoneInfo(prof.timezone)))
    head = f"Điểm tin số {result.number} ngày {day:%d/%m/%Y}"
    if result.built:
        cli.console.print(f"{head}: vừa lập.", highlight=False)
    if not result.sent and not result.failed:
        cli.console.print(f"{head}: mọi người nhận đã có, không gửi thêm thư nào.")
    elif result.sent:
        cli.console.print(f"{head}: đã gửi {len(result.sent)} thư.", highlight=False)
    for rcpt, why in result.failed.items():
        cli.err.print(f"[red]Chưa gửi được[/] {rcpt}: {why}", soft_wrap=True, highlight=False)
    if result.failed:
        hint = (
            "lỗi vĩnh viễn: sửa cấu hình/người nhận rồi chạy lại `diemtin digest send`"
            if result.permanent
            else "lỗi tạm thời: lượt chạy sau sẽ gửi tiếp"
        )
        cli.err.print(f"[yellow]{hint}[/]")
    raise typer.Exit(result.exit_code)


@digest_app.command("show")
def show_cmd(
    ctx: typer.Context,
    day_text: str | None = typer.Option(
        None, "--date", "-d", help="Ngày của điểm tin (YYYY-MM-DD; mặc định: hôm nay)."
    ),
    profile: str | None = typer.Option(None, "--profile", "-p", help="Hồ sơ tỉnh."),
) -> None:
    """In điểm tin (bản văn bản) ra màn hình, cùng sổ gửi thư của nó."""
    from zoneinfo import ZoneInfo

    from digest.deliver import archived_file, find_digest, ledger

    cli = _cli()
    settings, path, prof, day = _setup(ctx, profile, day_text)
    factory = _factory(settings)
    with factory() as session:
        row = find_digest(session, path.stem, day)
        files = dict(row.files or {}) if row else {}
    text_path = archived_file(files, "text")
    if text_path is None or not text_path.exists():
        if row is not None and row.status not in ("built", "approved"):
            cli.err.print(f"[red]Tệp điểm tin ngày {day:%d/%m/%Y} không còn trong kho lưu.[/]")
            raise typer.Exit(1)
        from digest.build import build_digest

        cli.err.print(f"[dim]Chưa có điểm tin ngày {day:%d/%m/%Y}: lập ngay.[/]")
        result = build_digest(factory, prof, path.stem, day, settings)
        text_path = archived_file(result.files, "text")
        with factory() as session:
            row = find_digest(session, path.stem, day)
    sys.stdout.write(text_path.read_text(encoding="utf-8").rstrip("\n") + "\n\n")
    sys.stdout.flush()
    tz = ZoneInfo(prof.timezone)
    status = STATUS_VI.get(row.status, row.status)
    approved = f", duyệt bởi {row.approved_by}" if row.approved_by else ""
    cli.console.print(
        f"Trạng thái: {status}{approved} · lập lúc {row.built_at.astimezone(tz):%H:%M %d/%m/%Y}"
        f" · tệp: {text_path.parent}",
        soft_wrap=True,
        highlight=False,
    )
    with factory() as session:
        rows = ledger(session, row.id)
    if rows:
        cli.console.print(_ledger_table(rows, tz))
    else:
        cli.console.print("Chưa gửi cho ai.")


# ── run / schedule / serve ───────────────────────────────────────────────────────────────────


def print_report(report, console, err) -> None:
    """A cycle's report, a few lines a person (or a cron mail) can read."""
    when = report.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    if report.skipped:
        console.print(f"[{when}] Bỏ qua: {report.skipped}.", highlight=False)
        return
    secs = (report.finished_at - report.started_at).total_seconds() if report.finished_at else 0
    console.print(f"[{when}] Lượt chạy hồ sơ {report.profile} ({secs:.0f} giây)", highlight=False)
    if report.crawl is not None:
        c = report.crawl
        state = "xong" if c.returncode == 0 else f"lỗi (mã {c.returncode})"
        if c.timed_out:
            state = "quá thời gian, đã dừng"
        console.print(f"  Thu thập: {state}, {c.seconds:.0f} giây", highlight=False)
    if report.classified is not None:
        console.print(
            f"  Phân loại: {report.classified} tin, {report.relevant} liên quan", highlight=False
        )
    a = report.alerts
    if a is not None:
        line = (
            f"  Cảnh báo: {a.created} câu chuyện mới; đã gửi {a.sent} thư riêng"
            f"{f', {a.summarised} câu chuyện trong thư tổng hợp' if a.summarised else ''}"
            f"{f'; {a.held} chờ lượt sau' if a.held else ''}"
        )
        console.print(line, highlight=False)
        if a.note:
            console.print(f"    {a.note}", highlight=False)
        for rcpt, why in a.failed.items():
            err.print(f"    [red]Chưa gửi được cảnh báo[/] {rcpt}: {why}", highlight=False)
    day = f" ngày {report.day:%d/%m/%Y}" if report.day else ""
    console.print(f"  Điểm tin{day}: {report.digest}", highlight=False)
    if report.built:
        console.print("    đã lập", highlight=False)
    s = report.send
    if s is not None:
        if s.sent:
            console.print(f"    đã gửi {len(s.sent)} thư: {', '.join(s.sent)}", highlight=False)
        elif not s.failed:
            console.print("    mọi người nhận đã có", highlight=False)
        for rcpt, why in s.failed.items():
            err.print(f"    [red]Chưa gửi được[/] {rcpt}: {why}", highlight=False)
    for e in report.errors:
        err.print(f"  [red]Lỗi[/] {e}", soft_wrap=True, highlight=False)


def _report_json(report) -> dict:
    send = report.send
    alerts = report.alerts
    return {
        "profile": report.profile,
        "started_at": report.started_at.isoformat(),
        "finished_at": report.finished_at.isoformat() if report.finished_at else None,
        "skipped": report.skipped,
        "crawl": None
        if report.crawl is None
        else {
            "returncode": report.crawl.returncode,
            "seconds": round(report.crawl.seconds, 1),
            "timed_out": report.crawl.timed_out,
        },
        "classified": report.classified,
        "relevant": report.relevant,
        "alerts": None
        if alerts is None
        else {
            "created": alerts.created,
            "sent": alerts.sent,
            "summarised": alerts.summarised,
            "held": alerts.held,
            "failed": alerts.failed,
        },
        "day": report.day.isoformat() if report.day else None,
        "digest": report.digest,
        "built": report.built,
        "send": None
        if send is None
        else {"sent": send.sent, "failed": send.failed, "status": send.status},
        "errors": report.errors,
        "exit_code": report.exit_code,
    }


def run_cmd(
    ctx: typer.Context,
    profile: str | None = typer.Option(None, "--profile", "-p", help="Hồ sơ tỉnh."),
    no_crawl: bool = typer.Option(False, "--no-crawl", help="Không thu thập trong lượt này."),
    crawl_timeout: float = typer.Option(
        1200, "--crawl-timeout", help="Giây tối đa cho phần thu thập (quá thì dừng lại)."
    ),
    as_json: bool = typer.Option(False, "--json", help="In báo cáo dạng JSON."),
) -> None:
    """Một lượt: thu thập → phân loại → cảnh báo → lập và gửi điểm tin khi đến giờ.

    An toàn khi chạy mỗi 15 phút bằng cron hoặc systemd (xem `diemtin schedule`).
    """
    from diemtin.jobs import run_cycle

    cli = _cli()
    settings = ctx.obj
    cli._profile(settings, profile)  # a clear message (and exit 2) for a broken profile
    report = run_cycle(
        settings,
        profile,
        crawl=not no_crawl,
        config_file=_config_file(ctx),
        crawl_timeout=crawl_timeout,
    )
    if as_json:
        sys.stdout.write(json.dumps(_report_json(report), ensure_ascii=False, indent=2) + "\n")
    else:
        print_report(report, cli.console, cli.err)
    raise typer.Exit(report.exit_code)


def _every(text: str) -> tuple[str, str, int]:
    """(cron schedule, systemd OnCalendar, minutes) for '15m', '30m', '1h', '2h'…"""
    from store.profile import parse_duration

    try:
        minutes = int(parse_duration(text).total_seconds() // 60)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--every") from exc
    if 1 <= minutes < 60 and 60 % minutes == 0:
        return f"*/{minutes} * * * *", f"*:0/{minutes}", minutes
    if minutes % 60 == 0 and 24 % (minutes // 60) == 0:
        hours = minutes // 60
        return f"0 */{hours} * * *", f"0/{hours}:00", minutes
    raise typer.BadParameter(
        "chu kỳ phải chia hết một giờ (5m, 10m, 15m, 30m) hoặc một ngày (1h, 2h, 3h…)",
        param_hint="--every",
    )


def schedule_cmd(
    ctx: typer.Context,
    profile: str | None = typer.Option(None, "--profile", "-p", help="Hồ sơ tỉnh."),
    every: str = typer.Option("15m", "--every", help="Chu kỳ chạy, ví dụ 15m, 30m, 1h."),
    user: str | None = typer.Option(None, "--user", help="Người dùng chạy dịch vụ systemd."),
) -> None:
    """In dòng crontab và cặp tệp systemd (service + timer) để chạy `diemtin run` định kỳ."""
    settings = ctx.obj
    path, prof, _ = _cli()._profile(settings, profile)
    cron, calendar, minutes = _every(every)
    sys.stdout.write(
        schedule_text(
            settings,
            path,
            prof,
            cron=cron,
            calendar=calendar,
            minutes=minutes,
            config_file=_config_file(ctx),
            user=user or getpass.getuser(),
        )
    )


def schedule_text(
    settings,
    profile_path: Path,
    profile,
    *,
    cron: str,
    calendar: str,
    minutes: int,
    config_file: Path | None,
    user: str,
    cwd: Path | None = None,
    python: str | None = None,
) -> str:
    """The crontab line and the systemd service + timer pair, for this install."""
    from digest.schedule import delivery_config

    cwd = (cwd or Path.cwd()).resolve()
    python = python or sys.executable
    data_dir = Path(settings.data_dir)
    data_dir = data_dir if data_dir.is_absolute() else (cwd / data_dir)
    args = [python, "-m", "diemtin"]
    if config_file:
        args += ["--config", str(Path(config_file).resolve())]
    args += ["--data-dir", str(data_dir), "run", "--profile", str(profile_path.resolve())]
    command = shlex.join(args)
    # systemd expands %-specifiers and cron turns % into a newline: escape them.
    unit_command = command.replace("%", "%%")
    log = data_dir / "logs" / "run.log"
    unit = "diemtin-" + re.sub(r"[^a-z0-9-]+", "-", profile_path.stem.lower()).strip("-")
    cfg = delivery_config(profile)
    when = f"điểm tin gửi lúc {cfg.send_at:%H:%M}"
    if cfg.require_approval:
        when += " khi đã duyệt (muộn nhất theo hạn duyệt)"
    secrets = (
        "# Bí mật (mật khẩu SMTP, địa chỉ CSDL) không ghi ở đây: đặt trong tệp .env của thư mục\n"
        f"# {cwd} (DIEMTIN_SMTP_PASSWORD=…) hoặc trỏ DIEMTIN_SMTP_SECRETS_FILE tới tệp mật khẩu\n"
        "# (ví dụ /etc/diemtin/smtp-password, chmod 600, chủ sở hữu là người dùng chạy dịch vụ).\n"
    )
    timeout = max(minutes * 3, 30)
    cron_line = (
        f"{cron} cd {shlex.quote(str(cwd))} && mkdir -p {shlex.quote(str(log.parent))} && "
        f"{command} >> {shlex.quote(str(log))} 2>&1"
    )
    return f"""\
# Điểm tin — {profile.province.name}: mỗi {minutes} phút một lượt thu thập → phân loại →
# cảnh báo → {when}. Chạy lại bao nhiêu lần cũng không gửi trùng; hai lượt không chồng nhau.
{secrets}
# ── Cách 1: cron (`crontab -e` của người dùng {user}) ──
{cron_line.replace("%", chr(92) + "%")}

# ── Cách 2: systemd — tệp /etc/systemd/system/{unit}.service ──
[Unit]
Description=Điểm tin ({profile.province.name}): một lượt thu thập, phân loại, cảnh báo, gửi điểm tin
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
User={user}
WorkingDirectory={cwd}
Environment=PYTHONUNBUFFERED=1
ExecStart={unit_command}
TimeoutStartSec={timeout}min
Nice=5

# ── và tệp /etc/systemd/system/{unit}.timer ──
[Unit]
Description=Chạy Điểm tin ({profile.province.name}) mỗi {minutes} phút

[Timer]
OnCalendar={calendar}
Persistent=true
AccuracySec=30s

[Install]
WantedBy=timers.target

# Bật: sudo systemctl daemon-reload && sudo systemctl enable --now {unit}.timer
# Xem:  systemctl list-timers {unit}.timer ; journalctl -u {unit}.service
# (Thay cho cả hai: `diemtin serve` chạy các lượt này liên tục trong một tiến trình.)
"""


def serve_cmd(
    ctx: typer.Context,
    profile: str | None = typer.Option(None, "--profile", "-p", help="Hồ sơ tỉnh."),
    every: str = typer.Option("15m", "--every", help="Chu kỳ chạy, ví dụ 15m."),
    host: str = typer.Option("127.0.0.1", "--host", help="Địa chỉ của trang duyệt tin."),
    port: int = typer.Option(8080, "--port", help="Cổng của trang duyệt tin."),
    crawl_timeout: float = typer.Option(
        1200, "--crawl-timeout", help="Giây tối đa cho phần thu thập mỗi lượt."
    ),
    cycles: int | None = typer.Option(None, "--cycles", help="Dừng sau từng ấy lượt (thử)."),
) -> None:
    """Chạy liên tục: mỗi chu kỳ một lượt như `diemtin run`, cùng trang duyệt tin."""
    from diemtin.jobs import serve_forever, start_web_app
    from store.profile import parse_duration

    cli = _cli()
    settings = ctx.obj
    cli._profile(settings, profile)
    try:
        period = parse_duration(every)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--every") from exc
    start_web_app(settings, host, port)
    cli.console.print(f"Trang duyệt tin: http://{host}:{port}/")
    cli.console.print(f"Chạy mỗi {every}; Ctrl+C (hoặc SIGTERM) để dừng sau lượt đang chạy.")
    serve_forever(
        settings,
        profile,
        every=period,
        config_file=_config_file(ctx),
        on_report=lambda r: print_report(r, cli.console, cli.err),
        max_cycles=cycles,
        crawl_timeout=crawl_timeout,
    )


def register(app: typer.Typer) -> None:
    """Add `digest` (build/send/show), `run`, `schedule` and `serve` to the main app, once."""
    if getattr(app, "_diemtin_digest_registered", False):
        return
    app.add_typer(digest_app, name="digest")
    app.command("run")(run_cmd)
    app.command("schedule")(schedule_cmd)
    app.command("serve")(serve_cmd)
    app._diemtin_digest_registered = True


if __name__ == "__main__":
    from diemtin.cli import app as main_app

    register(main_app)
    main_app()
