from jepaworld.cli.main import app

app()
