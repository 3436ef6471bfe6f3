"""report-qa ingestion: corpus/*.md → validated sections → chunks → versioned Chroma + BM25 index."""
