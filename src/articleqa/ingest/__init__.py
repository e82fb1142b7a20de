"""Ingestion stage: readers, chunking with offsets, the SQLite registry, the pipeline."""
