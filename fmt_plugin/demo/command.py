"""The `fmt-plugin demo [DIR]` sub-command: its arguments, and the handler that runs the demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fmt_plugin.commands.invocation import current_actor, iso_date_argument
from fmt_plugin.demo.run import DEFAULT_DIRECTORY, DemoOptions, run_demo
from fmt_plugin.errors import ExitStatus
from fmt_plugin.timezone import today_in_paris


def add_demo_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Register `demo` among the CLI's sub-commands."""
    demo = commands.add_parser(
        "demo",
        help="cabinet de démonstration : patientèle fictive, messages HL7, rappels",
        description="Crée (si besoin) une installation de démonstration dans DOSSIER, "
        "démarre le service, lui envoie l'historique HL7 d'une patientèle fictive, "
        "planifie les rappels et affiche les indicateurs ; puis continue de servir "
        "jusqu'à Ctrl-C.",
    )
    demo.add_argument(
        "directory",
        nargs="?",
        type=Path,
        default=DEFAULT_DIRECTORY,
        metavar="DOSSIER",
        help=f"dossier de l'installation (défaut : {DEFAULT_DIRECTORY})",
    )
    demo.add_argument(
        "--once",
        action="store_true",
        help="arrêter le service après le résumé",
    )
    demo.add_argument(
        "--as-of",
        type=iso_date_argument,
        metavar="DATE",
        help="date d'évaluation et de planification, AAAA-MM-JJ ou JJ/MM/AAAA "
        "(défaut : aujourd'hui)",
    )
    demo.add_argument(
        "--mllp-port",
        type=int,
        metavar="PORT",
        help="port d'écoute HL7 (remplace [mllp] port ; 0 = un port libre)",
    )
    demo.add_argument(
        "--http-port",
        type=int,
        metavar="PORT",
        help="port de la page d'état (0 = un port libre)",
    )
    demo.add_argument(
        "--verbose",
        action="store_true",
        help="journaux du service au niveau configuré (défaut : avertissements seuls)",
    )
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo in DIR (see `fmt_plugin.demo.run`)."""
    options = DemoOptions(
        directory=args.directory,
        as_of=args.as_of or today_in_paris(),
        once=args.once,
        mllp_port=args.mllp_port,
        http_port=args.http_port,
        verbose=args.verbose,
    )
    run_demo(options, sys.stdout, actor=current_actor(), progress=sys.stderr)
    return ExitStatus.OK
