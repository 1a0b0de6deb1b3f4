"""Differential test: the fast parser (`er7`) and the hl7apy backend read the same values.

Every message of the third-party corpus (`shared/hl7-corpus`, multi-message files cut with
`split_messages`) and of the public scenario is parsed by both backends. Accepted messages must
agree on every segment, field, repetition, component and subcomponent, escaped (`raw`) and
unescaped (`field`), with no normalisation. Rejected ones must be rejected by both, with the
error listed in EXPECTED_REJECTIONS. The only disagreements allowed are KNOWN_DIVERGENCES, so a
new one fails the test.

hl7apy 1.3.5 has no unescape function, only an escaping one: the last tests check that
`er7.unescape` reads back exactly what hl7apy's escaping writes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.v2_5 import ST
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fmt_plugin.errors import Hl7ParseError
from fmt_plugin.hl7 import reference
from fmt_plugin.hl7.batch import split_messages
from fmt_plugin.hl7.er7 import Encoding, Message, parse_message, unescape
from fmt_plugin.hl7.reference import hl7apy_separators, parse_with_hl7apy

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "hl7-corpus"
SCENARIO_MESSAGES = SHARED / "scenarios" / "public" / "messages"

# hl7apy's `parse_fields` skips a field whose text is only blanks (`if field.strip()`), so it
# reads as empty there, where er7 keeps the blanks. Inherent to hl7apy, and harmless: readers
# strip values. Listed message by message rather than normalised away, so that the test still
# sees every other difference in those messages.
BLANK_FIELD = "field of blanks only (e.g. NTE-3 = ' '): empty for hl7apy, kept by er7"

# "<path in the corpus>#<message number in the file>": why the backends disagree.
KNOWN_DIVERGENCES = {
    "hapi-hl7v2/oru-r01_example-oml-o21-file-msg10.hl7#1": BLANK_FIELD,  # PID-3
    "hl7-dotnetcore/adt-o01_v2.3_sample-adt_crlf_blank-line_space-only-line.hl7#1": BLANK_FIELD,
    "linuxforhealth-hl7v2-fhir-converter/oru-r01_FHIRConverterTest-L329.hl7#1": BLANK_FIELD,
    "linuxforhealth-hl7v2-fhir-converter/vxu-v04_FHIRConverterTest-L136.hl7#1": BLANK_FIELD,
    "microsoft-fhir-converter/LAB-ORU-1.hl7#1": BLANK_FIELD,  # OBR-12, OBR-13
    "microsoft-fhir-converter/LAB-ORU-2.hl7#1": BLANK_FIELD,  # OBR-12, OBR-13
}

# Messages both backends reject (they share decoding and header checks): the code and the
# location (`Hl7Error.location`, or `#n` for the segment at position n whose name is invalid).
EXPECTED_REJECTIONS = {
    # MSH-9, MSH-10 or MSH-12 empty or absent (fragments and deliberately broken samples).
    "cdc-data-exchange-hl7/invalid_oru-r01_phlip-flu_msh12-empty.hl7#1": (
        101,
        "MSH-12",
    ),
    "cdc-data-exchange-hl7/invalid_oru_phlip-flu_msh9-empty_msh2-5char.hl7#1": (
        101,
        "MSH-9",
    ),
    "cdc-data-exchange-hl7/invalid_truncated-msh-and-pid_null-quotes.hl7#1": (
        101,
        "MSH-9",
    ),
    "cdc-data-exchange-hl7/stream_5x-oru-r01_phlip-flu_one-missing-msh12.hl7#2": (
        101,
        "MSH-12",
    ),
    "hl7-dotnetcore/oru-r01_Program-L661.hl7#1": (101, "MSH-10"),
    "hl7apy/fragment_msh2-3chars-missing-subcomponent-sep.hl7#1": (101, "MSH-9"),
    "hl7apy/fragment_msh2-custom-3chars.hl7#1": (101, "MSH-9"),
    "hl7apy/fragment_msh9-trigger-missing.hl7#1": (101, "MSH-10"),
    "linuxforhealth-hl7v2-fhir-converter/adt-a34_HL7MergeFHIRConversionTest-L34.hl7#1": (
        101,
        "MSH-10",
    ),
    "linuxforhealth-hl7v2-fhir-converter/oml-o21_HL7OMLMessageTest-L42.hl7#1": (
        101,
        "MSH-10",
    ),
    "nhapi/fuzz_LegacyPipeParser_HL7Exception_stackoverflow1.hl7#1": (101, "MSH-10"),
    "nhapi/orf-r04_LegacyPipeParserV231Tests-L356.hl7#1": (101, "MSH-10"),
    "nhapi/orm-o01_msh2-5char-truncation.hl7#1": (101, "MSH-10"),
    "python-hl7/fragment_custom-delimiters-dollar-percent.hl7#1": (101, "MSH-9"),
    "python-hl7/fragment_mllp-framed-vt-fs-cr.hl7#1": (101, "MSH-9"),
    "python-hl7/fragment_msh_cp1252-byte-0x96.hl7#1": (101, "MSH-9"),
    # Encoding characters: empty, duplicated (Java/C# literals that doubled the backslash),
    # more than five, letters or digits, or a short MSH-2 whose defaults are taken.
    "hl7-dotnetcore/orm-o01_v2.3_msh2-3chars-no-escape-char.hl7#1": (101, "MSH-2"),
    "hl7apy/fragment_custom-field-sep-bang_rsp-sli.hl7#1": (102, "MSH-2"),
    "hl7apy/fragment_msh2-6chars-invalid.hl7#1": (102, "MSH-2"),
    "hl7apy/fragment_msh2-custom-7chars-invalid.hl7#1": (102, "MSH-2"),
    "hl7apy/fragment_msh2-repeated-chars-5_adt-a01.hl7#1": (102, "MSH-2"),
    "hl7apy/fragment_msh2-repeated-chars_adt-a01.hl7#1": (102, "MSH-2"),
    "hl7apy/fragment_msh_all-empty-incl-msh2.hl7#1": (101, "MSH-2"),
    "linuxforhealth-hl7v2-fhir-converter/adt-a01_v2.6_crlf_literal-backslash-r-text_msh2-doubled-backslash.hl7#1": (
        102,
        "MSH-2",
    ),
    "linuxforhealth-hl7v2-fhir-converter/adt-a01_v2.6_lf_literal-backslash-r-text_msh2-doubled-backslash.hl7#1": (
        102,
        "MSH-2",
    ),
    "linuxforhealth-hl7v2-fhir-converter/oru-r01_Hl7ORUMessageTest-L124.hl7#1": (
        102,
        "MSH-2",
    ),
    "linuxforhealth-hl7v2-fhir-converter/oru-r01_Hl7ORUMessageTest-L305.hl7#1": (
        102,
        "MSH-2",
    ),
    "linuxforhealth-hl7v2-fhir-converter/oru-r01_Hl7ORUMessageTest-L431.hl7#1": (
        102,
        "MSH-2",
    ),
    "linuxforhealth-hl7v2-fhir-converter/oru-r01_SegmentUtilTest-L321.hl7#1": (
        102,
        "MSH-2",
    ),
    "nhapi/fuzz_LegacyPipeParser_EncodingNotSupportedException_nullref1.hl7#1": (
        102,
        "MSH-1",
    ),
    "nhapi/fuzz_LegacyPipeParser_HL7Exception_sys2.hl7#1": (102, "MSH-2"),
    "nhapi/fuzz_LegacyPipeParser_NoException_regex1.hl7#1": (102, "MSH-2"),
    "nhapi/fuzz_PipeParser_HL7Exception_id_000064.hl7#1": (101, "MSH-2"),
    "nhapi/fuzz_PipeParser_HL7Exception_id_000123.hl7#1": (102, "MSH-2"),
    "nhapi/fuzz_PipeParser_HL7Exception_id_000176.hl7#1": (102, "MSH-2"),
    "nhapi/fuzz_PipeParser_HL7Exception_so.hl7#1": (102, "MSH-2"),
    "nhapi/fuzz_PipeParser_HL7Exception_so5.hl7#1": (102, "MSH-2"),
    "panates-hl7v2/fragment_mllp-framed_iso-8859-1-bytes_msh18-iso-8859-1.hl7#1": (
        102,
        "MSH-2",
    ),
    # MSH-18 `8859` alone: which part of ISO 8859 is not said.
    "nhapi/oru-r01_v2.4_msh18-8859_utf8-replacement-chars_ft-tx.hl7#1": (103, "MSH-18"),
    # Invalid segment names: deliberately broken encodings, raw line breaks inside a field
    # (base64 continued on indented lines, an LF in PID-13), a two-letter name, fuzz output.
    "cdc-iis-open-tools/vxu-v04_cr_encoding-01_identified_encoding_pipe_error.hl7#1": (
        100,
        "#5",
    ),
    "cdc-iis-open-tools/vxu-v04_cr_encoding-02_identified_encoding_pipe2_error.hl7#1": (
        100,
        "#2",
    ),
    "hl7enumerator/oru-r01_v2.3_cr_obx-ed-base64-with-raw-crlf-inside.hl7#1": (
        100,
        "#8",
    ),
    "hl7enumerator/oru-r01_v2.3_crlf_obx-ed-base64-with-raw-crlf-inside.hl7#1": (
        100,
        "#8",
    ),
    "nhapi/fuzz_LegacyPipeParser_HL7Exception_hang1.hl7#1": (100, "#2"),
    "panates-hl7v2/oru-r01_v2.2_cr_raw-LF-inside-pid13-field.hl7#1": (100, "#3"),
    "rethinkhealth-hl7v2/invalid-segment-header-length.hl7#1": (100, "#2"),
    # No MSH: files without one, and segments outside any message in broken batch files
    # (`split_messages` yields them on their own so they are quarantined, not dropped).
    "cdc-phdi/invalid_no-msh_segment-ids-AAA-BBB-CCC.hl7#1": (100, "MSH"),
    "nhapi/fuzz_PipeParser_EncodingNotSupportedException_id_000014.hl7#1": (100, "MSH"),
    "python-hl7/sample_bad_batch1_batch-bhs.hl7#2": (100, "MSH"),
    "python-hl7/sample_bad_batch_batch-bhs.hl7#1": (100, "MSH"),
    "python-hl7/sample_bad_file1_batch-fhs.hl7#2": (100, "MSH"),
    "python-hl7/sample_bad_file2_batch-fhs.hl7#2": (100, "MSH"),
    "python-hl7/sample_bad_file3_batch-fhs.hl7#1": (100, "MSH"),
    "python-hl7/sample_bad_file_batch-fhs.hl7#1": (100, "MSH"),
    "rethinkhealth-hl7v2/invalid-missing-msh.hl7#1": (100, "MSH"),
}

# What the corpus holds today: 435 pieces cut from its 393 files (426 MSH-headed messages and 9
# pieces without MSH), 380 of them read by both backends.
CORPUS_PIECES = 435
CORPUS_ACCEPTED = 380

HL7APY_DEFAULT_SEPARATORS = {
    "FIELD": "|",
    "COMPONENT": "^",
    "REPETITION": "~",
    "ESCAPE": "\\",
    "SUBCOMPONENT": "&",
}
Outcome = tuple[Message | None, tuple[int, str] | None]


def corpus_messages() -> Iterator[tuple[str, bytes]]:
    """Every piece `split_messages` cuts from the corpus files, keyed `<path>#<n>`."""
    for path in sorted(CORPUS.rglob("*.hl7")):
        name = path.relative_to(CORPUS).as_posix()
        for number, raw in enumerate(split_messages(path.read_bytes()), 1):
            yield f"{name}#{number}", raw.data


def outcome(parser: Callable[[bytes], Message], data: bytes) -> Outcome:
    """The parsed message, or the error's code and location."""
    try:
        return parser(data), None
    except Hl7ParseError as exc:
        return None, (exc.code, exc.location or f"#{exc.segment_index}")


def differences(ours: Message, theirs: Message) -> list[tuple[str, int, int]]:
    """Where two parses of one message differ: (segment, position, field); field 0 when
    the segment itself (name, position or field count) or the message differs."""
    found: list[tuple[str, int, int]] = []
    if (ours.charset, ours.encoding, ours.text) != (
        theirs.charset,
        theirs.encoding,
        theirs.text,
    ):
        found.append(("message", 0, 0))
    if len(ours.segments) != len(theirs.segments):
        found.append(("message", len(theirs.segments), 0))
    for mine, other in zip(ours.segments, theirs.segments, strict=False):
        if (mine.name, mine.index, mine.field_count) != (
            other.name,
            other.index,
            other.field_count,
        ):
            found.append((mine.name, mine.index, 0))
            continue
        for field in range(1, mine.field_count + 1):
            if mine.raw(field) != other.raw(field) or mine.field(field) != other.field(
                field
            ):
                found.append((mine.name, mine.index, field))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"third-party corpus absent: {CORPUS}")
def test_backends_agree_on_every_corpus_message():
    """er7 and hl7apy accept and reject the same corpus messages and read the same values."""
    pieces = accepted = agreed = 0
    rejections: dict[str, tuple[int, str]] = {}
    divergences: dict[str, list[tuple[str, int, int]]] = {}
    blank_only: dict[str, bool] = {}
    for key, data in corpus_messages():
        pieces += 1
        ours, our_error = outcome(parse_message, data)
        theirs, their_error = outcome(parse_with_hl7apy, data)
        if ours is None or theirs is None:
            if our_error != their_error:
                divergences[key] = [("rejection", 0, 0)]
            elif our_error is not None:
                rejections[key] = our_error
            continue
        accepted += 1
        found = differences(ours, theirs)
        if not found:
            agreed += 1
            continue
        divergences[key] = found
        blank_only[key] = all(
            field > 0 and not segment.raw(field).strip() and not other.raw(field)
            for segment, other, field in (
                (ours.segments[index - 1], theirs.segments[index - 1], field)
                for _, index, field in found
            )
        )
    assert rejections == EXPECTED_REJECTIONS
    assert divergences.keys() == KNOWN_DIVERGENCES.keys(), divergences
    # Each known divergence still has the cause it is listed for.
    for key, reason in KNOWN_DIVERGENCES.items():
        assert reason != BLANK_FIELD or blank_only[key], (key, divergences[key])
    assert (pieces, accepted, agreed) == (
        CORPUS_PIECES,
        CORPUS_ACCEPTED,
        CORPUS_ACCEPTED - len(KNOWN_DIVERGENCES),
    )


@pytest.mark.skipif(
    not SCENARIO_MESSAGES.is_dir(),
    reason=f"public scenario absent: {SCENARIO_MESSAGES}",
)
def test_backends_agree_on_the_public_scenario_messages():
    """Every public scenario message is read, identically, by both backends."""
    paths = sorted(SCENARIO_MESSAGES.glob("*.hl7"))
    assert paths
    for path in paths:
        (raw,) = split_messages(path.read_bytes())
        assert (
            differences(parse_message(raw.data), parse_with_hl7apy(raw.data)) == []
        ), path


def test_hl7apy_backend_translates_its_errors(monkeypatch):
    """A failure inside hl7apy comes out as an Hl7ParseError at the segment, never raw."""

    def broken(*_args, **_kwargs):
        raise IndexError("hl7apy bug")

    monkeypatch.setattr(reference, "parse_fields", broken)
    with pytest.raises(Hl7ParseError) as caught:
        parse_with_hl7apy("MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.5\rPID|1||X")
    assert (caught.value.code, caught.value.segment, caught.value.segment_index) == (
        207,
        "MSH",
        1,
    )
    assert isinstance(caught.value.__cause__, IndexError)


@functools.cache
def small_seeds() -> list[bytes]:
    """Corpus and scenario messages under 1,500 bytes (hl7apy takes ~0.1 s per 5 KB)."""
    paths = sorted(CORPUS.rglob("*.hl7")) + sorted(SCENARIO_MESSAGES.glob("*.hl7"))
    seeds = [raw.data for path in paths for raw in split_messages(path.read_bytes())]
    return [seed for seed in seeds if len(seed) < 1500] or [SMALL_SEED]


SMALL_SEED = b"MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.5\rPID|1||X^^^Y&Z&ISO~W||N^P\r"
# Separators of every level, escape sequences and blanks: what changes how a message is cut.
CUTTING_BYTES = [
    b"|",
    b"^",
    b"~",
    b"&",
    b"\\",
    b"\\F\\",
    b"\\X41\\",
    b" ",
    b"\r",
    b"\n",
]


@st.composite
def edited_seed(draw: st.DrawFn) -> bytes:
    """A small seed message with separators, escapes and blanks inserted or bytes deleted."""
    data = bytearray(draw(st.sampled_from(small_seeds())))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        if draw(st.booleans()):
            data[position:position] = draw(st.sampled_from(CUTTING_BYTES))
        else:
            del data[position : position + draw(st.integers(min_value=1, max_value=4))]
    return bytes(data)


@given(edited_seed())
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_backends_agree_on_edited_messages(data):
    """Edited messages are accepted or rejected alike, and read alike, by both backends."""
    ours, our_error = outcome(parse_message, data)
    theirs, their_error = outcome(parse_with_hl7apy, data)
    assert our_error == their_error
    if ours is not None and theirs is not None:
        assert all(
            field > 0 and not ours.segments[index - 1].raw(field).strip()
            for _, index, field in differences(ours, theirs)
        ), "only fields of blanks may differ (see BLANK_FIELD)"


# --- unescaping against hl7apy's escaping --------------------------------------------------

# Text mixing separators, the escape character, the letters of escape sequences and non-ASCII.
hl7_text = st.text(alphabet=st.sampled_from("|^~\\&#!$%HNFSTREXabc é€\t"), max_size=30)


@pytest.mark.parametrize(
    "encoding",
    [Encoding(), Encoding("$", "%", "#", "!", "^")],
    ids=["standard", "custom"],
)
@given(value=hl7_text)
@settings(max_examples=300, deadline=None)
def test_unescape_reads_back_what_hl7apy_escapes(encoding, value):
    """`unescape(hl7apy escaping of v) == v` for any v hl7apy escapes unambiguously."""
    escape = re.escape(encoding.escape)
    # hl7apy leaves an escape character alone when it already looks like the start or end of
    # a sequence (`\F\`, `\H\`…), so such values cannot round-trip through it.
    assume(not re.search(f"{escape}[HNFSTRE]|[HNFSTRE]{escape}", value))
    escaped = ST(value, validation_level=VALIDATION_LEVEL.TOLERANT).to_er7(
        hl7apy_separators(encoding)
    )
    assert unescape(escaped, encoding) == value


def test_unescape_drops_hl7apy_highlighting():
    """hl7apy's highlights (`\\H\\ … \\N\\`) read back as the plain text."""
    value = ST(
        "très important",
        highlights=((5, 14),),
        validation_level=VALIDATION_LEVEL.TOLERANT,
    )
    escaped = value.to_er7(HL7APY_DEFAULT_SEPARATORS)
    assert escaped == "très \\H\\important\\N\\"
    assert unescape(escaped, Encoding()) == "très important"
