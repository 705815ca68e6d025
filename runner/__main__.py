from runner.cli import command

command()
