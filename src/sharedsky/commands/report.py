"""`sharedsky report RECORD`: the incident dossier (HTML, and PDF by headless chromium) of one incident."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click

from sharedsky.commands.common import fail, load_agreement_or_fail

CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")


def _time(text: str | None, what: str) -> float | None:
    """UTC epoch seconds from epoch seconds or ISO 8601 (Z or no zone: UTC)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail("report", f"{what} {text!r}: not a time (epoch seconds or ISO 8601 UTC)")
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def find_chromium() -> str | None:
    """The headless browser that prints the PDF (the one the browser tests use)."""
    for name in CHROMIUM:
        path = shutil.which(name)
        if path:
            return path
    return None


def print_pdf(html_path: Path, pdf_path: Path, timeout_s: float = 120.0) -> None:
    """Print an HTML file to PDF with headless chromium; RuntimeError with a clear message if it cannot."""
    exe = find_chromium()
    if exe is None:
        raise RuntimeError("no PDF: headless chromium was not found (install Debian's `chromium`, or use --no-pdf; "
                           "the HTML dossier is complete without it)")
    with tempfile.TemporaryDirectory(prefix="sharedsky-pdf-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               f"--user-data-dir={profile}", f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"no PDF: chromium did not finish within {timeout_s:.0f} s") from exc
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise RuntimeError(f"no PDF: chromium failed ({r.returncode}): {r.stderr.decode(errors='replace')[-500:]}")


@click.command()
@click.argument("record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--agreement", "agreement_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The agreement (its keys and rules).")
@click.option("--seq", type=click.IntRange(min=1), help="The incident: an entry that records one of its alerts.")
@click.option("--aircraft", help="Or the aircraft (icao24, comma-separated) with --from and --to.")
@click.option("--from", "t_from", help="Start of the window (epoch s or ISO 8601 UTC).")
@click.option("--to", "t_to", help="End of the window (epoch s or ISO 8601 UTC).")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With a party's copy: the witnessed checkpoint (signed note) to prove its entries against.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for dossier.html and dossier.pdf.")
@click.option("--name", default="dossier", show_default=True, help="File name (without extension).")
@click.option("--no-pdf", is_flag=True, help="Only the HTML.")
def report(record: Path, agreement_path: Path, seq: int | None, aircraft: str | None, t_from: str | None,
           t_to: str | None, checkpoint_path: Path | None, out_dir: Path, name: str, no_pdf: bool) -> None:
    """Build the dossier of one incident in RECORD (the service's SQLite record or a party's copy)."""
    import time

    from sharedsky.record.checkpoint import NoteError
    from sharedsky.record.notary import trust_of
    from sharedsky.reports.dossier import DossierError, build_dossier, choose_incident
    from sharedsky.reports.dossier_source import open_source

    ag = load_agreement_or_fail("report", agreement_path)
    t_start = time.perf_counter()
    try:
        log_key = None
        from sharedsky.record.log import SQLITE_MAGIC

        with open(record, "rb") as fh:
            if fh.read(16) == SQLITE_MAGIC and not ag.record.log_key:
                from sharedsky.record.log import load_private_key, public_key_b64, server_key_path

                kp = server_key_path(record)
                if kp.exists():
                    log_key = public_key_b64(load_private_key(kp.read_text()).public_key())
        trust = trust_of(ag, log_key)
        src = open_source(record, trust, checkpoint_path)
        ids = [a.strip().lower() for a in (aircraft or "").split(",") if a.strip()]
        inc = choose_incident(src, seq, ids, _time(t_from, "--from"), _time(t_to, "--to"))
        text = build_dossier(src, ag, inc)
        src.close()
    except (DossierError, NoteError) as exc:
        fail("report", str(exc))
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"{name}.html"
    html_path.write_text(text, encoding="utf-8")
    took = time.perf_counter() - t_start
    click.echo(f"{html_path}: {len(text):,} bytes, aircraft {', '.join(inc.ids)}, parties {', '.join(inc.parties)} "
               f"({took:.1f} s)")
    if no_pdf:
        return
    try:
        print_pdf(html_path, out_dir / f"{name}.pdf")
    except RuntimeError as exc:
        fail("report", str(exc), code=1)
    click.echo(f"{out_dir / (name + '.pdf')}")
