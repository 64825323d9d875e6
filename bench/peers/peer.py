"""The Python peers of fileproc's benchmark (`make benchmark`).

What a Python file-processing service would run for each work item, on the same generated
inputs: pandas for CSV, openpyxl (read-only) and python-calamine for XLSX, pypdf for PDF text,
python-docx for DOCX and Pillow for thumbnails.

The process stays up for the whole benchmark, so the interpreter's start and the imports are
paid once, not per run: the benchmark writes one request per line on stdin,

    ITEM PATH

and reads one JSON line back per request,

    {"seconds": 0.123, "facts": {...}}   or   {"error": "..."}

`seconds` is the wall time of the work alone (time.perf_counter around it); `facts` are counts
BENCHMARKS.md shows beside fileproc's, so a reader sees both sides did the whole job (where they
count differently, e.g. python-docx's words leave out table cells, the numbers differ).
"""

import io
import json
import sys
import time


def csv_pandas(path):
    """read_csv, then what fileproc's CSV result has per column: nulls, distinct values,
    min/max/mean of numbers, min/max length of strings."""
    import pandas as pd

    frame = pd.read_csv(path)
    columns = {}
    for name in frame.columns:
        series = frame[name]
        stats = {"nulls": int(series.isna().sum()), "distinct": int(series.nunique())}
        if pd.api.types.is_numeric_dtype(series):
            stats.update(min=float(series.min()), max=float(series.max()), mean=float(series.mean()))
        else:
            lengths = series.dropna().astype(str).str.len()
            stats.update(min_length=int(lengths.min()), max_length=int(lengths.max()))
        columns[name] = stats
    return {"rows": len(frame), "columns": len(columns)}


def xlsx_openpyxl(path):
    """Every cell of every sheet through openpyxl's read-only (streaming) mode."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = cells = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            rows += 1
            cells += sum(1 for value in row if value is not None)
    book.close()
    return {"rows": rows, "cells": cells}


def xlsx_calamine(path):
    """Every cell of every sheet through python-calamine (Rust's calamine, loaded whole)."""
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(path)
    rows = cells = 0
    for name in book.sheet_names:
        for row in book.get_sheet_by_name(name).to_python(skip_empty_area=False):
            rows += 1
            cells += sum(1 for value in row if value != "")
    return {"rows": rows, "cells": cells}


def pdf_pypdf(path):
    """The text of every page, and the page count."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    text = "".join(page.extract_text() or "" for page in reader.pages)
    return {"pages": len(reader.pages), "chars": len(text), "words": len(text.split())}


def docx_python_docx(path):
    """Paragraph text, tables' cell text, headings, word count."""
    import docx

    document = docx.Document(path)
    paragraphs = [p.text for p in document.paragraphs]
    headings = [p.text for p in document.paragraphs if p.style.name.lower().startswith("heading")]
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    words = sum(len(t.split()) for t in paragraphs)
    return {
        "paragraphs": len(paragraphs),
        "tables": len(document.tables),
        "headings": len(headings),
        "cells": len(cells),
        "words": words,
    }


def thumbnail_pillow(path):
    """A 256-pixel thumbnail: open, apply the EXIF orientation, shrink (JPEG draft mode, i.e.
    DCT scaling, as Image.thumbnail does), encode as JPEG (PNG when there is alpha)."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        image.thumbnail((256, 256))
        out = io.BytesIO()
        if image.mode in ("RGBA", "LA", "P"):
            image.save(out, format="PNG")
        else:
            image.convert("RGB").save(out, format="JPEG", quality=80)
        return {"width": image.width, "height": image.height, "bytes": out.tell()}


ITEMS = {
    "csv-pandas": csv_pandas,
    "xlsx-openpyxl": xlsx_openpyxl,
    "xlsx-calamine": xlsx_calamine,
    "pdf-pypdf": pdf_pypdf,
    "docx-python-docx": docx_python_docx,
    "thumbnail-pillow": thumbnail_pillow,
}


def main():
    # Import everything up front: an import is not part of any run.
    import docx  # noqa: F401
    import openpyxl  # noqa: F401
    import pandas  # noqa: F401
    import PIL.Image  # noqa: F401
    import pypdf  # noqa: F401
    import python_calamine  # noqa: F401

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        item, _, path = line.rstrip("\n").partition(" ")
        work = ITEMS.get(item)
        if work is None:
            print(json.dumps({"error": f"unknown item {item!r}"}), flush=True)
            continue
        try:
            started = time.perf_counter()
            facts = work(path)
            seconds = time.perf_counter() - started
            print(json.dumps({"seconds": seconds, "facts": facts}), flush=True)
        except Exception as error:  # noqa: BLE001 - reported to the benchmark, which stops
            print(json.dumps({"error": f"{item} {path}: {type(error).__name__}: {error}"}), flush=True)


if __name__ == "__main__":
    main()
