import json

import pytest

from articleqa.ingest.readers import ReadError, read_file
from articleqa.ingest.sources import read_paths

from .conftest import SAMPLES


def test_txt_title_and_credit_line():
    (art,), _ = read_file(SAMPLES / "vietnam-japan-parliamentary-agreement-vov.txt")
    assert art.id == "vietnam-japan-parliamentary-agreement-vov"
    assert art.title == "Vietnam and Japan ink parliamentary cooperation agreement"
    assert art.source == "VOV"
    (other,), _ = read_file(SAMPLES / "vietnam-japan-leaders-talks.txt")
    # Issue 21: each sample opens with a headline (it opened with a sentence of its story).
    assert (
        other.title == "Vietnam’s top legislator holds talks with Japan’s Prime Minister and Senate President"
    )
    assert other.source == ""


def test_txt_title_drops_a_photo_placeholder_and_capitalises(tmp_path):
    """Scraped copy glues "picture 1" to a lower-case headline (as the VOV sample once did)."""
    p = tmp_path / "ink.txt"
    p.write_text("vietnam and japan ink a cooperation agreement picture 1\nThe document was signed.\n")
    (art,), _ = read_file(p)
    assert art.title == "Vietnam and japan ink a cooperation agreement"


def test_markdown_heading_is_title(tmp_path):
    p = tmp_path / "note.md"
    p.write_text("Intro line\n# Real Title\n\nBody text here.", encoding="utf-8")
    (art,), _ = read_file(p)
    assert art.title == "Real Title" and art.text.startswith("Intro line")


def test_html_main_text_and_metadata(tmp_path):
    html = """<html><head><title>Harbour reopens | Daily Planet</title>
    <meta property="og:site_name" content="Daily Planet"><meta name="author" content="Lois Lane">
    <meta property="article:published_time" content="2024-12-05T10:00:00Z"></head>
    <body><nav>Home | World | Sport</nav><article><h1>Harbour reopens after storm</h1>
    <p>The harbour reopened on Thursday after three days of repairs, officials said.</p>
    <p>Fishing boats returned to the docks by noon, and the ferry service resumed in the afternoon.</p>
    </article><footer>Copyright Daily Planet</footer></body></html>"""
    p = tmp_path / "page.html"
    p.write_text(html, encoding="utf-8")
    (art,), _ = read_file(p)
    assert "harbour reopened on Thursday" in art.text
    assert "Copyright" not in art.text and "Sport" not in art.text
    assert art.source == "Daily Planet"
    assert art.published_at == "2024-12-05"


def test_jsonl_fields_and_malformed_line_reported(tmp_path):
    p = tmp_path / "feed.jsonl"
    lines = [
        json.dumps(
            {
                "id": "a1",
                "title": "T1",
                "text": "First story.",
                "source": "Wire",
                "published_at": "2024-01-02",
            }
        ),
        "{not json",
        json.dumps({"title": "no text"}),
        json.dumps({"text": "Second story.", "url": "https://example.org/2"}),
    ]
    p.write_text("\n".join(lines), encoding="utf-8")
    arts, warns = read_file(p)
    assert [a.id for a in arts][0] == "a1" and len(arts) == 2
    assert arts[0].source == "Wire" and arts[0].published_at == "2024-01-02" and arts[0].key == "jsonl:a1"
    assert any(":2: malformed JSON" in w for w in warns)
    assert any(":3: needs a non-empty string field 'text'" in w for w in warns)


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.txt", b"   \n", "file is empty"),
        ("blob.txt", b"abc\x00\x01\x02", "binary"),
        ("data.pdf", b"%PDF-1.4", "unsupported file type '.pdf'"),
    ],
)
def test_bad_files_get_specific_errors(tmp_path, name, content, reason):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(ReadError, match=reason):
        read_file(p)


def test_oversized_and_missing_files(tmp_path):
    p = tmp_path / "big.txt"
    p.write_text("x" * 2_000_000)
    with pytest.raises(ReadError, match="over the 1 MB limit"):
        read_file(p, max_file_mb=1)
    with pytest.raises(ReadError, match="no such file"):
        read_file(tmp_path / "nope.txt")


def test_invalid_utf8_is_replaced_with_warning(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes("Café au lait.\n".encode("latin-1"))
    (art,), warns = read_file(p)
    assert "Caf\ufffd" in art.text and "invalid UTF-8" in warns[0]


def test_batch_continues_past_bad_files(tmp_path):
    (tmp_path / "ok.txt").write_text("A fine article.\nWith text.")
    (tmp_path / "empty.txt").write_text("")
    res = read_paths([tmp_path])
    assert len(res.articles) == 1 and len(res.errors) == 1


def test_folder_names_the_files_it_skips(tmp_path):
    (tmp_path / "ok.txt").write_text("A fine article.\nWith text.")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "README").write_text("no extension")
    (tmp_path / ".DS_Store").write_bytes(b"\x00")  # hidden: skipped silently
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]")
    res = read_paths([tmp_path])
    assert len(res.articles) == 1 and not res.errors
    assert res.warnings == [
        f"{tmp_path / 'notes.pdf'}: skipped, '.pdf' files can't be ingested (use .txt .md .html .jsonl)",
        f"{tmp_path / 'sub' / 'README'}: skipped, files without an extension can't be ingested"
        " (use .txt .md .html .jsonl)",
    ]


def test_malformed_json_message_says_at_once(tmp_path):
    p = tmp_path / "feed.jsonl"
    p.write_text(json.dumps({"text": "A story."}) + '\n"unterminated\n', encoding="utf-8")
    _, warns = read_file(p)
    assert warns == [f"{p}:2: malformed JSON (Unterminated string starting at column 1); line skipped"]


@pytest.mark.parametrize(
    ("head", "date", "source"),
    [
        ("TOKYO, Dec 5 (Reuters) - Japan's prime minister met Vietnam's leaders.", "", "Reuters"),
        ("HANOI, December 5, 2024 (VNA) – Vietnam and Japan signed an agreement.", "2024-12-05", "VNA"),
        ("DA NANG, Vietnam, Sept. 30, 2023 - Typhoon warnings were lifted.", "2023-09-30", ""),
        ("Ports reopen\nHAIPHONG, Feb 29, 2023 (Reuters) - Not a real day.", "", "Reuters"),
        ("The minister said on Dec 5, 2024 - in Hanoi - that talks went well.", "", ""),
    ],
)
def test_txt_dateline_dates_only_with_a_year(tmp_path, head, date, source):
    p = tmp_path / "story.txt"
    p.write_text(head + "\nMore of the story follows here.", encoding="utf-8")
    (art,), _ = read_file(p)
    assert art.published_at == date and art.source == source
    assert art.text.startswith(head.split("\n")[0])  # the dateline text stays in the article


@pytest.mark.parametrize(
    "text",
    [
        "# Harbour reopens\n\nPORT ELEN, March 5, 2026 – The harbour reopened on Thursday.\n",
        "# Harbour reopens\n\n**PORT ELEN**, March 5, 2026 – The harbour reopened on Thursday.\n",
        "PORT ELEN, March 5, 2026 – The harbour reopened on Thursday.\n",
    ],
)
def test_markdown_dateline_dates_the_report(tmp_path, text):
    p = tmp_path / "harbour.md"
    p.write_text(text)
    ((art,), _) = read_file(p)
    assert art.published_at == "2026-03-05"
    assert art.text == text  # the article text itself is what was written
