from logloom.cli import run

run()
