"""The `report-qa` command."""

from __future__ import annotations

import json
import sys

import click

from ingest.cli import ingest_command
from ingest.settings import get_settings


@click.group()
@click.version_option(package_name="report-qa")
def cli():
    """report-qa：《InternLM2 技术报告》中文译文问答。Question answering over the InternLM2 report."""


cli.add_command(ingest_command)


@cli.command()
@click.argument("query")
@click.option("--top-k", default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def search(query, top_k, as_json):
    """检索最相关的章节与片段。Print the top sections and chunks for QUERY."""
    from .index import IndexHandle, IndexMissing
    from .retrieval import retrieve

    try:
        r = retrieve(IndexHandle(get_settings()), query, top_k=top_k)
    except IndexMissing as exc:
        click.echo(f"还没有索引：请先运行 `report-qa ingest`。No index yet ({exc}).", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({"query": r.query, "mode": r.mode, "evidence": round(r.evidence, 3),
                               "notice": r.notice, "sections": [
                                   {"section": s.number, "title": s.title_zh, "path": s.path,
                                    "score": round(s.score, 5),
                                    "chunks": [{"id": h.chunk["id"], "score": round(h.score, 5),
                                                "text": h.chunk["text"]} for h in s.hits[:3]]}
                                   for s in r.sections]}, ensure_ascii=False, indent=2))
        return
    click.echo(f"[{r.mode}] evidence={r.evidence:.2f} {r.notice}")
    for s in r.sections:
        click.echo(f"§{s.number} {s.title_zh}（{s.title_en}）  score={s.score:.4f}")
        click.echo("    " + s.best.chunk["text"][:160].replace("\n", " ") + "…")


def main():
    cli()


if __name__ == "__main__":
    main()
