"""The ``diffsim`` console script: ``processes``, ``xsec``, ``generate`` and ``plot``.

``main(argv)`` parses the arguments, fills a :class:`~diffsim.cli.card.RunCard` (options
override the ``--card`` file, which overrides the defaults), runs the command and returns
the exit status: 0 on success, :data:`~diffsim.cli.errors.EXIT_USER_ERROR` after a user
error (one line on stderr, no traceback), :data:`~diffsim.cli.errors.EXIT_INTERRUPTED`
after Ctrl-C (``generate`` then resumes when rerun). Results go to stdout, progress bars
and notes to stderr. Double precision is switched on (``diffsim.enable_x64``), and ``xsec`` and
``generate`` keep their compiled programs in ``$DIFFSIM_CACHE/xla``
(``diffsim.compilation_cache.using_compilation_cache``, restored when the command ends),
so a rerun does not compile again.
"""

import argparse
import json
import pathlib
import sys

import diffsim
from diffsim.cli import catalogue
from diffsim.cli.card import RunCard, load_card
from diffsim.cli.errors import EXIT_INTERRUPTED, EXIT_USER_ERROR, UserError
from diffsim.cli.setup import DEFAULT_HADRONIC_SQRT_S, INTEGRATORS
from diffsim.compilation_cache import using_compilation_cache

__all__ = ["main"]

EXAMPLES = """examples:
  diffsim processes
  diffsim xsec "e+ e- > mu+ mu-" --sqrt-s 91.188 --precision 1e-3
  diffsim xsec "p p > t t~" --scale 173 --alphas model --json
  diffsim generate "p p > e+ e-" --model zprime -n 100000 -o dy.lhe.gz
  diffsim plot dy.lhe.gz --observable mll --out mll.png --log
  diffsim generate --card dy.lhe.gz -n 200000 -o dy2.lhe.gz"""


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are :class:`UserError` s (one line, no usage dump)."""

    def error(self, message):
        raise UserError(f"{message} (see `{self.prog} --help`)")


def _run_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``xsec`` and ``generate`` (default None: keep the card's value)."""
    parser.add_argument("process", nargs="?", help='process in MadGraph syntax, e.g. "p p > e+ e-"')
    parser.add_argument("--card", metavar="FILE", help="rerun a run card (.toml, or an LHE file diffsim wrote)")
    parser.add_argument("--save-card", metavar="FILE", help="write the completed run card (TOML) to FILE")
    physics = parser.add_argument_group("physics")
    physics.add_argument("--model", help="model: " + ", ".join(catalogue.MODELS) + " (default sm)")
    physics.add_argument("--sqrt-s", type=float, help=f"collider energy in GeV (hadronic default {DEFAULT_HADRONIC_SQRT_S:g})")
    physics.add_argument("--pdf", help="LHAPDF6 set name or folder (default: the shipped NNPDF31_lo_as_0118)")
    physics.add_argument("--pdf-member", type=int, help="PDF member (default 0)")
    physics.add_argument("--scale", help="mu_F = mu_R: GeV, 'mhat' (default) or 'ht/2'")
    physics.add_argument("--alphas", help="'pdf' (alpha_s(mu_R) of the PDF, default), 'model' or a number")
    physics.add_argument("--cut", action="append", metavar="CUT",
                         help="e.g. 'mll>15', 'pt>20', 'eta<2.5', 'y<2' (repeatable; replaces the card's cuts)")
    physics.add_argument("--param", action="append", metavar="NAME=VALUE", help="model parameter, e.g. mt=172.5 (repeatable)")
    numerics = parser.add_argument_group("integration")
    numerics.add_argument("--integrator", help="vegas (default), nis or madnis")
    numerics.add_argument("--single-channel", dest="multichannel", action="store_const", const=False,
                          help="one channel instead of one per diagram (fewer compilations)")
    numerics.add_argument("--precision", type=float, help="target relative error of sigma (default 1e-3)")
    numerics.add_argument("--max-calls", type=int, help="give up after this many evaluation calls")
    numerics.add_argument("--batch-size", type=int,
                          help="points per VEGAS iteration, evaluation batch and event chunk (default 20000)")
    numerics.add_argument("--train-iterations", type=int, help="VEGAS adaptation iterations per channel")
    numerics.add_argument("--train-steps", type=int, help="flow training steps (nis, madnis)")
    numerics.add_argument("--train-batch", type=int, help="points per channel per training step (nis, madnis)")
    numerics.add_argument("--pilot-points", type=int, help="points of the pilot sample (allocation, sigma, w_max)")
    numerics.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="diffsim", description="Differentiable LHC simulation: cross sections, events, plots.",
                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"diffsim {diffsim.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    processes = commands.add_parser("processes", help="models, their processes and parameters")
    processes.add_argument("--json", action="store_true", help="one JSON object on stdout")
    xsec = commands.add_parser("xsec", help="a cross section to a requested precision")
    _run_options(xsec)
    xsec.add_argument("--json", action="store_true", help="one JSON object on stdout")
    generate = commands.add_parser("generate", help="unweighted events to an LHE file (resumable)")
    _run_options(generate)
    generate.add_argument("-n", "--events", type=int, dest="n_events", help="number of events")
    generate.add_argument("-o", "--output", help="output file, .lhe or .lhe.gz")
    plot = commands.add_parser("plot", help="histogram an observable of an LHE file")
    plot.add_argument("file", help="LHE file (.lhe or .lhe.gz)")
    plot.add_argument("--observable", required=True, help="m (mll), pt, eta, y, phi or e")
    plot.add_argument("--particles", help="PDG ids or names to select, e.g. 11,-11 or e+,e- (default: all outgoing)")
    plot.add_argument("--out", required=True, help="image file, e.g. mll.png")
    plot.add_argument("--bins", type=int, default=50)
    plot.add_argument("--range", nargs=2, type=float, metavar=("LOW", "HIGH"))
    plot.add_argument("--log", action="store_true", help="logarithmic y axis")
    return parser


def _parse_params(items: list[str] | None) -> dict[str, float]:
    params = {}
    for item in items or ():
        name, sign, value = item.partition("=")
        name = name.strip()
        try:
            if not sign or not name:
                raise ValueError
            params[name] = float(value)
        except ValueError:
            raise UserError(f"bad --param {item!r}: expected NAME=VALUE with a number, e.g. --param mt=172.5") from None
    return params


_CARD_OPTIONS = ("model", "sqrt_s", "pdf", "pdf_member", "scale", "alphas", "integrator", "multichannel", "precision",
                 "max_calls",
                 "batch_size", "train_iterations", "train_steps", "train_batch", "pilot_points", "seed", "n_events",
                 "output")


def _card(args) -> RunCard:
    """The card of a run: ``--card`` (or the defaults), overridden by the options given."""
    card = load_card(args.card) if args.card else RunCard()
    changes = {name: getattr(args, name, None) for name in _CARD_OPTIONS}
    changes["process"] = args.process
    changes["cuts"] = tuple(args.cut) if args.cut else None
    if args.param:
        changes["params"] = {**card.params, **_parse_params(args.param)}
    card = card.replace(**changes)
    for name in ("batch_size", "train_iterations", "train_steps", "train_batch", "pilot_points", "max_calls"):
        if getattr(card, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be positive, got {getattr(card, name)}")
    if card.train_batch < 2 or card.batch_size < 100:
        raise UserError("--train-batch must be at least 2 and --batch-size at least 100")
    return card


def _processes(args) -> None:
    from diffsim.pdf import DEFAULT_SET

    listing = {
        model: {"parameters": catalogue.parameters(model), "fixed_energy": list(MODEL.PROCESSES),
                "hadronic": list(catalogue.hadronic_processes(model))}
        for model, MODEL in catalogue.MODELS.items()
    }
    if args.json:
        print(json.dumps(listing))
        return
    for model, entry in listing.items():
        print(f"model {model} (--model {model})")
        print("  parameters (--param NAME=VALUE; masses m*, widths w* in GeV):")
        print("    " + ", ".join(f"{name}={value:g}" for name, value in entry["parameters"].items()))
        print("  fixed-energy collisions (no PDF; --sqrt-s required):")
        print("".join(f"    {name}\n" for name in entry["fixed_energy"]), end="")
        if entry["hadronic"]:
            print(f"  hadron collisions (PDF {DEFAULT_SET} by default, --sqrt-s {DEFAULT_HADRONIC_SQRT_S:g} by default):")
            print("".join(f"    {name}\n" for name in entry["hadronic"]), end="")
    print(f"integrators: {', '.join(INTEGRATORS)}")


def _save_card(args, card_dict: dict) -> None:
    if args.save_card:
        completed = RunCard.from_dict({k: v for k, v in card_dict.items() if k in RunCard.__dataclass_fields__})
        pathlib.Path(args.save_card).write_text(completed.to_toml())


def _xsec(args) -> None:
    from diffsim.cli.xsec import cross_section, describe

    result = cross_section(_card(args), progress=not args.quiet)
    _save_card(args, result)
    print(json.dumps(result) if args.json else describe(result))


def _generate(args) -> None:
    from diffsim.cli.generate import generate

    card = _card(args)
    summary = generate(card, progress=not args.quiet)
    _save_card(args, {**card.to_dict(), "output": summary["output"]})
    note = " (resumed)" if summary["resumed"] else ""
    print(f"wrote {summary['events']} events to {summary['output']}{note}: σ = {summary['cross_section']:.6g} "
          f"± {summary['error']:.2g} pb")


def _plot(args) -> None:
    from diffsim.cli.plot import plot_file

    histogram = plot_file(args.file, args.observable, args.out, particles=args.particles, bins=args.bins,
                          value_range=tuple(args.range) if args.range else None, log=args.log)
    print(f"wrote {args.out}: {args.observable} of {args.file}, {histogram.axes[0].size} bins, "
          f"σ in range {histogram.sum().value:.6g} pb")


COMMANDS = {"processes": _processes, "xsec": _xsec, "generate": _generate, "plot": _plot}


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        if args.command is None:
            raise UserError("choose a command: " + ", ".join(COMMANDS) + " (see `diffsim --help`)")
        diffsim.enable_x64()
        if args.command in ("xsec", "generate"):
            from diffsim.cli.sampler import cache_folder

            with using_compilation_cache(cache_folder() / "xla"):
                COMMANDS[args.command](args)
        else:
            COMMANDS[args.command](args)
    except UserError as error:
        print(f"diffsim: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("diffsim: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0
