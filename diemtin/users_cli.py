"""`diemtin users add|passwd|disable|enable|list` and `diemtin web` (the review app alone).

There is no default account and no default password: the first admin is made here. Passwords
are asked twice without echo, or read from standard input with `--password-stdin` (scripts).
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err = Console(stderr=True)
users_app = typer.Typer(help="Tài khoản của trang duyệt tin.", no_args_is_help=True)


def _factory(ctx: typer.Context):
    from store.db import open_store

    return open_store(ctx.obj.db_url)


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Mật khẩu", hide_input=True, confirmation_prompt="Nhập lại mật khẩu")


def _run(ctx: typer.Context, action) -> None:
    from store.accounts import AccountError
    from store.db import session_scope

    try:
        with session_scope(_factory(ctx)) as session:
            message = action(session)
    except AccountError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(message)


@users_app.command("add")
def add_cmd(
    ctx: typer.Context,
    username: str = typer.Argument(..., help="Tên đăng nhập (chữ thường không dấu)."),
    role: str = typer.Option("officer", "--role", help="officer | lead | admin"),
    name: str = typer.Option("", "--name", help="Họ tên hiển thị."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Đọc mật khẩu từ stdin."),
) -> None:
    """Tạo tài khoản."""
    from store.accounts import add_user

    password = _password(password_stdin)

    def add(session) -> str:
        user = add_user(session, username, password, role=role, display_name=name)
        return f"Đã tạo tài khoản {user.username} ({role})."

    _run(ctx, add)


@users_app.command("passwd")
def passwd_cmd(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Đọc mật khẩu từ stdin."),
) -> None:
    """Đặt mật khẩu mới (đăng xuất mọi phiên của tài khoản)."""
    from store.accounts import set_password

    password = _password(password_stdin)
    _run(ctx, lambda s: f"Đã đổi mật khẩu của {set_password(s, username, password).username}.")


@users_app.command("disable")
def disable_cmd(ctx: typer.Context, username: str = typer.Argument(...)) -> None:
    """Khóa tài khoản (giữ lại trong nhật ký); mọi phiên và mã API của nó hết hiệu lực."""
    from store.accounts import set_active

    _run(ctx, lambda s: f"Đã khóa tài khoản {set_active(s, username, False).username}.")


@users_app.command("enable")
def enable_cmd(ctx: typer.Context, username: str = typer.Argument(...)) -> None:
    """Mở khóa tài khoản."""
    from store.accounts import set_active

    _run(ctx, lambda s: f"Đã mở khóa tài khoản {set_active(s, username, True).username}.")


@users_app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """Liệt kê tài khoản."""
    from sqlalchemy import select

    from store.accounts import ROLE_VI
    from store.models import User

    with _factory(ctx)() as session:
        users = session.scalars(select(User).order_by(User.username)).all()
    table = Table("Tài khoản", "Họ tên", "Vai trò", "Trạng thái")
    for u in users:
        table.add_row(
            u.username,
            u.display_name,
            ROLE_VI.get(u.role, u.role),
            "hoạt động" if u.active else "đã khóa",
        )
    console.print(table if users else "Chưa có tài khoản nào: tạo bằng `diemtin users add`.")


def web_cmd(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Địa chỉ lắng nghe."),
    port: int = typer.Option(8080, "--port", help="Cổng."),
) -> None:
    """Chỉ chạy trang duyệt tin (không thu thập); `diemtin serve` chạy cả hai."""
    from review.app import serve

    console.print(f"Trang duyệt tin: http://{host}:{port}/  (Ctrl+C để dừng)")
    serve(ctx.obj, host=host, port=port)


def register(app: typer.Typer) -> None:
    if getattr(app, "_diemtin_users_registered", False):
        return
    app.add_typer(users_app, name="users")
    app.command("web")(web_cmd)
    app._diemtin_users_registered = True
