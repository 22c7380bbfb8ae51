"""`diemtin`: one command line for every stage."""

import typer

app = typer.Typer(help="Điểm tin — theo dõi báo chí và mạng xã hội, điểm tin hằng ngày.")


@app.callback()
def main() -> None:
    """Điểm tin — theo dõi báo chí và mạng xã hội về tỉnh, điểm tin hằng ngày."""
