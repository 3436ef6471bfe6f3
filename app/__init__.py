"""report-qa application: retrieval, answering, HTTP API and web chat over the ingested index."""
