"""`report-qa ingest`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .settings import get_settings


@click.command("ingest")
@click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path), default=None,
              help="Corpus directory (default: CORPUS_DIR or ./corpus).")
@click.option("--rebuild", is_flag=True, help="Build a new index version and re-embed every chunk.")
@click.option("--allow-missing", is_flag=True, help="Index the sections that exist; list the missing ones.")
@click.option("--wait", "wait", type=float, default=0.0, show_default=True,
              help="Seconds to wait for another running ingest before giving up.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary object.")
def ingest_command(corpus_dir, rebuild, allow_missing, wait, as_json):
    """解析、校验、切分并索引 corpus/ 译文。Parse, validate, chunk and index the translation."""
    # imported here, not at the top: `report-qa --help` and the other commands do not pay for them
    from .corpus import CorpusError
    from .embeddings import embeddings_for
    from .pipeline import IngestDiskFull, run_ingest
    from .store import IngestBusy

    settings = get_settings()
    bar = None

    def progress(done: int, total: int):
        nonlocal bar
        if as_json or not sys.stderr.isatty():
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, desc="embedding", unit="chunk", file=sys.stderr)
        bar.update(done - bar.n)

    try:
        report = run_ingest(settings, corpus_dir, rebuild=rebuild, allow_missing=allow_missing,
                            progress=progress, embeddings=embeddings_for(settings), lock_wait=wait)
    except CorpusError as exc:
        click.echo(f"语料校验失败，索引未作任何改动。Corpus validation failed; the index is unchanged "
                   f"({len(exc.problems)} problem(s)):", err=True)
        for p in exc.problems:
            click.echo(f"  {p}", err=True)
        if any("is missing" in p.message for p in exc.problems):
            click.echo("译文尚不完整时可加 --allow-missing 只索引已有章节。"
                       "Use --allow-missing to index the sections that exist.", err=True)
        sys.exit(1)
    except IngestBusy as exc:
        click.echo(f"另一个 ingest 正在运行（pid {exc}），本次未执行；请等它结束后重试，或加 --wait 秒数。"
                   f"Another ingest (pid {exc}) is running; try again when it finishes, or pass --wait.",
                   err=True)
        sys.exit(3)
    except IngestDiskFull as exc:
        click.echo(str(exc), err=True)
        sys.exit(4)
    finally:
        if bar is not None:
            bar.close()
    for note in report.notes:
        click.echo(note, err=True)
    if as_json:
        out = report.to_json()
        click.echo(json.dumps({k: out[k] for k in ("sections", "chunks", "embedded", "reused", "removed",
                                                      "seconds", "retrieval_mode", "embedding_model", "added",
                                                      "updated", "unchanged", "version", "index_changed",
                                                      "missing")}, ensure_ascii=False))
        return
    mode = ("hybrid（关键词 + 向量）" if report.retrieval_mode == "hybrid" else "keyword（仅关键词 BM25）")
    click.echo(f"检索模式 retrieval mode: {mode} — {report.message}")
    click.echo(f"{report.sections} sections, {report.chunks} chunks: {report.added} added, {report.updated} updated, "
               f"{report.removed} removed, {report.unchanged} unchanged; embedded {report.embedded}, "
               f"reused {report.reused}; {report.seconds:.2f} s")
    click.echo(f"index version {report.version}" + ("" if report.index_changed else " (no change)"))
    if report.missing:
        click.echo(f"尚缺 {len(report.missing)} 节 missing sections: {', '.join(report.missing)}")
