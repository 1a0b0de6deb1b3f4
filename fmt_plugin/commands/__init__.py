"""The sub-commands of `fmt-plugin`, one module per group, each registering its own parsers.

Every module exposes `register(commands, common)`: `commands` is the top-level sub-parser
collection, `common` the parent parser that carries `--config` after the sub-command. Handlers
take the parsed arguments and return an `ExitStatus`; `fmt_plugin.cli.main` maps our errors
to exit statuses, so handlers raise `FmtError` subclasses rather than printing them.
"""
