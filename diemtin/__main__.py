from diemtin.cli import app

app()
