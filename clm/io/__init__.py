"""Import and export of customer data: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) and XLSX files,
validated row by row, written idempotently in bulk, exported honouring record visibility.

readers (files as chunks of text) -> mapping (columns to fields) -> validate (types, keys,
references) -> write (bulk upserts, audit, ledgers) — run by engine; export writes files back."""
