"""The parser of one small verb: help, description and examples, formatted alike."""

from __future__ import annotations

import argparse

FMT = argparse.RawDescriptionHelpFormatter


def verb_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                parents: list[argparse.ArgumentParser], name: str, help_: str,
                examples: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, parents=parents, help=help_, description=help_.capitalize() + ".",
                          epilog="examples:\n" + examples, formatter_class=FMT)
