"""Tests of the fast ER7 parser (`fmt_plugin.hl7.er7`): one behaviour per test."""

from __future__ import annotations

import pytest

from fmt_plugin.errors import Hl7ParseError
from fmt_plugin.hl7.er7 import (
    Encoding,
    Message,
    decode_message,
    parse_message,
    unescape,
)

HEADER = (
    "MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|20260620101500||ORU^R01^ORU_R01|H00042|P|2.5"
)
PID = (
    "PID|1||148080905620659^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS"
    "~Q06^^^CABINET&1.2.250.1.999.1&ISO^PI||GARNIER^ROGER^^^^^L||19480808|M"
)
OBX = "OBX|1|NM|4548-4^HbA1c^LN||7.4|%|||||F|||202509160800"
# A patient name that must never reach an error message.
SECRET = "DUPONTEL"


def header(charset: str = "", encoding: str = "^~\\&") -> str:
    """HEADER with other encoding characters and, when given, MSH-18."""
    text = HEADER.replace("^~\\&", encoding, 1)
    return text + "||||||" + charset if charset else text


def message(*segments: str, msh: str = HEADER) -> str:
    """An ER7 message of `msh` then `segments`, CR-separated."""
    return "\r".join([msh, *segments])


def parse(*segments: str, msh: str = HEADER) -> Message:
    return parse_message(message(*segments, msh=msh))


def error_of(raw: bytes | str) -> Hl7ParseError:
    with pytest.raises(Hl7ParseError) as caught:
        parse_message(raw)
    return caught.value


def obx5(value: str, msh: str = HEADER) -> str:
    """OBX-5 of a message whose OBX-5 is written `value`, as parse_message reads it."""
    segment = parse(f"OBX|1|TX|X^Y^L||{value}", msh=msh).first("OBX")
    assert segment is not None
    return segment.value(5)


# --- encoding characters ------------------------------------------------------------------


def test_default_encoding_characters_are_read():
    """A standard MSH-1/MSH-2 gives `|` and `^~\\&`, without truncation character."""
    assert parse().encoding == Encoding("|", "^", "~", "\\", "&", None)


def test_custom_encoding_characters_split_the_message():
    """Odd separators (`$` field, `%` component, `&` repetition, `!` escape, `#` sub) work."""
    msh = "MSH$%&!#$LABO$BIOLAB$FMT$CABINET$20260620101500$$ORU%R01$H1$P$2.5"
    segment = parse("PID$1$$ID1%%%AUTH#OID&ID2$$A!F!B%ROGER", msh=msh).first("PID")
    assert segment is not None
    assert parse(msh=msh).message_code == "ORU"
    assert segment.value(3, 4, 2) == "OID"
    assert segment.value(3, repetition=2) == "ID2"
    assert segment.value(5) == "A$B"
    assert segment.value(5, 2) == "ROGER"


def test_field_separator_other_than_pipe_is_used():
    """The character after `MSH` is the field separator, whatever it is."""
    msh = "MSH*^~\\&*LABO*BIOLAB*FMT*CABINET*20260620101500**ORU^R01*H1*P*2.5"
    assert parse("PID*1**X|Y", msh=msh).first("PID").value(3) == "X|Y"


def test_fifth_encoding_character_is_kept_as_truncation_character():
    """`^~\\&#` declares `#` as the v2.7 truncation character."""
    assert parse(msh=header(encoding="^~\\&#")).encoding.truncation == "#"


def test_truncation_character_does_not_split_values():
    """A truncation character in a value is plain text."""
    assert obx5("A#B", msh=header(encoding="^~\\&#")) == "A#B"


def test_missing_subcomponent_separator_takes_its_default():
    """MSH-2 `^~\\` (three characters) means `&` is the subcomponent separator."""
    assert parse(msh=header(encoding="^~\\")).encoding.subcomponent == "&"


def test_short_msh2_whose_default_is_taken_is_rejected():
    """MSH-2 `^~&`: the escape would be `&` and the default subcomponent `&` too."""
    error = error_of(message(msh=header(encoding="^~&")))
    assert (error.code, error.location) == (101, "MSH-2")


def test_duplicate_encoding_characters_are_rejected():
    """Two separators that are the same character make the message unreadable."""
    error = error_of(message(msh=header(encoding="^~\\\\")))
    assert (error.code, error.location) == (102, "MSH-2")


def test_default_equal_to_the_field_separator_is_rejected():
    """With `&` as field separator, a missing subcomponent separator has no free default."""
    error = error_of("MSH&^~\\&LABO&BIOLAB&FMT&CABINET&20260620&&ORU^R01&H1&P&2.5")
    assert (error.code, error.location) == (101, "MSH-2")


def test_alphanumeric_encoding_character_is_rejected():
    """A letter or digit as separator means a corrupt header, not a custom choice."""
    error = error_of(message(msh=header(encoding="^~\\A")))
    assert (error.code, error.location) == (102, "MSH-2")


def test_alphanumeric_field_separator_is_rejected():
    """`MSHX…`: X cannot be the field separator."""
    error = error_of("MSHX^~\\&XLABO")
    assert (error.code, error.location) == (102, "MSH-1")


def test_more_than_five_encoding_characters_are_rejected():
    """MSH-2 has at most five characters."""
    error = error_of(message(msh=header(encoding="^~\\&#$")))
    assert (error.code, error.location) == (102, "MSH-2")


def test_empty_msh2_is_rejected():
    """`MSH||…` declares no encoding characters."""
    error = error_of(message(msh=header(encoding="")))
    assert (error.code, error.location) == (101, "MSH-2")


# --- numbering and structure ----------------------------------------------------------------


def test_msh_field_1_is_the_field_separator_and_field_2_the_encoding_characters():
    """HL7 numbering: `msh.value(9)` is MSH-9, the field separator being MSH-1."""
    msh = parse().msh
    assert msh.value(1) == "|"
    assert msh.value(2) == "^~\\&"
    assert msh.value(3) == "LABO"
    assert msh.value(9) == "ORU"
    assert msh.raw(9) == "ORU^R01^ORU_R01"
    assert msh.field_count == 12


def test_msh2_is_never_split_into_components_or_repetitions():
    """MSH-2 holds the separators themselves: one value, one repetition."""
    msh = parse().msh
    assert msh.repetitions(2) == 1
    assert msh.components(2) == ["^~\\&"]


def test_header_properties_read_msh():
    """The Message properties name the MSH fields they read."""
    msh = (
        "MSH|^~\\&|LABO^A|BIOLAB^B|FMT^C|CABINET^D|20260620101500||ORU^R01^ORU_R01|H42"
        "|P^T|2.5^FRA|||AL|NE|FRA|UNICODE UTF-8~8859/15"
    )
    parsed = parse(msh=msh)
    assert (parsed.message_code, parsed.trigger_event, parsed.structure) == (
        "ORU",
        "R01",
        "ORU_R01",
    )
    assert (parsed.control_id, parsed.processing_id, parsed.version) == (
        "H42",
        "P",
        "2.5",
    )
    assert (parsed.accept_ack_type, parsed.application_ack_type) == ("AL", "NE")
    assert (parsed.sending_application, parsed.sending_facility) == ("LABO", "BIOLAB")
    assert (parsed.receiving_application, parsed.receiving_facility) == (
        "FMT",
        "CABINET",
    )
    assert parsed.charset_name == "UNICODE UTF-8"
    assert parsed.msh is parsed.segments[0]


def test_repetitions_are_counted_and_addressed():
    """PID-3 `a~b` has two repetitions, each readable by number."""
    pid = parse(PID).first("PID")
    assert pid is not None
    assert pid.repetitions(3) == 2
    assert pid.value(3, repetition=2) == "Q06"
    assert pid.value(3, 5, repetition=2) == "PI"


def test_empty_or_absent_field_has_no_repetition():
    """An empty field and a field past the end both count 0 repetitions."""
    pid = parse(PID).first("PID")
    assert pid is not None
    assert pid.repetitions(2) == 0
    assert pid.repetitions(99) == 0


def test_components_and_subcomponents_are_addressed():
    """`value(3, 4, 2)` is PID-3.4.2, the assigning authority's OID."""
    pid = parse(PID).first("PID")
    assert pid is not None
    assert pid.value(3, 4) == "ASIP-SANTE-INS-NIR"
    assert pid.value(3, 4, 2) == "1.2.250.1.213.1.4.8"
    assert pid.value(3, 4, 3, 2) == "ISO"


def test_absent_parts_read_as_empty_strings():
    """A component, subcomponent, repetition or field that is not there reads ""."""
    pid = parse(PID).first("PID")
    assert pid is not None
    assert pid.value(5, 9) == ""
    assert pid.value(5, 1, 2) == ""
    assert pid.value(5, repetition=2) == ""
    assert pid.value(40) == ""
    assert pid.raw(40) == ""


def test_field_gives_repetitions_components_and_subcomponents():
    """`field(n)` is the whole unescaped tree of a field."""
    pid = parse("PID|1||A^B&C~D").first("PID")
    assert pid is not None
    assert pid.field(3) == ((("A",), ("B", "C")), (("D",),))
    assert pid.field(4) == ()


def test_components_keeps_the_first_subcomponent_of_each():
    """`components()` lists a repetition's components, each cut at its first subcomponent."""
    pid = parse(PID).first("PID")
    assert pid is not None
    assert pid.components(3, 2) == ["Q06", "", "", "CABINET", "PI"]
    assert pid.components(3, 3) == []


def test_raw_gives_the_field_as_received():
    """`raw()` keeps separators and escape sequences as written."""
    pid = parse("PID|1||A\\S\\B^C").first("PID")
    assert pid is not None
    assert pid.raw(3) == "A\\S\\B^C"


def test_trailing_empty_components_are_kept():
    """`A^B^` has three components, the last one empty."""
    pid = parse("PID|1||A^B^").first("PID")
    assert pid is not None
    assert pid.components(3) == ["A", "B", ""]


def test_field_count_includes_trailing_empty_fields():
    """`PID|1||` has three fields, the last two empty."""
    pid = parse("PID|1||").first("PID")
    assert pid is not None
    assert pid.field_count == 3


def test_positions_start_at_one():
    """Field, component, subcomponent and repetition 0 are programming errors."""
    pid = parse(PID).first("PID")
    assert pid is not None
    with pytest.raises(ValueError, match="commencent à 1"):
        pid.value(0)
    with pytest.raises(ValueError, match="commencent à 1"):
        pid.value(3, 0)
    with pytest.raises(ValueError, match="commencent à 1"):
        pid.raw(0)


def test_first_and_all_find_segments_by_name():
    """`first` gives the first segment of a name or None; `all` every one, in order."""
    parsed = parse(PID, OBX, OBX.replace("OBX|1", "OBX|2"))
    assert [segment.value(1) for segment in parsed.all("OBX")] == ["1", "2"]
    assert parsed.first("OBX") is parsed.all("OBX")[0]
    assert parsed.first("NTE") is None
    assert parsed.all("NTE") == []


def test_segment_index_is_the_position_in_the_message():
    """Segment positions count segments from 1 (MSH), blank lines aside."""
    parsed = parse_message(message("", PID, "   ", OBX))
    assert [(segment.name, segment.index) for segment in parsed.segments] == [
        ("MSH", 1),
        ("PID", 2),
        ("OBX", 3),
    ]


def test_z_segments_are_accepted():
    """A site-defined Z segment is a segment like any other."""
    assert parse("ZFR|1|X").first("ZFR").value(2) == "X"


def test_values_are_cached():
    """Reading a field twice returns the same tree object."""
    pid = parse(PID).first("PID")
    assert pid is not None
    assert pid.field(3) is pid.field(3)


def test_reprs_show_no_content():
    """`repr` of a message or a segment never shows a field's value."""
    parsed = parse(PID.replace("GARNIER", SECRET))
    assert SECRET not in repr(parsed)
    assert SECRET not in repr(parsed.first("PID"))


# --- segment separators -------------------------------------------------------------------


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n", "\n\r"], ids=repr)
def test_segment_separator_is_cr_lf_or_crlf(separator):
    """CR, LF, CRLF (and LF CR, a blank line) all separate segments."""
    parsed = parse_message(separator.join([HEADER, PID, OBX]) + separator)
    assert [segment.name for segment in parsed.segments] == ["MSH", "PID", "OBX"]


def test_mixed_segment_separators_are_accepted():
    """One message may mix CR, LF and CRLF."""
    parsed = parse_message(HEADER + "\r\n" + PID + "\n" + OBX + "\r")
    assert len(parsed.segments) == 3


def test_blank_and_whitespace_lines_are_skipped():
    """Empty lines and lines of blanks are not segments."""
    parsed = parse_message("\n\n" + HEADER + "\r\n\r\n  \t\r\n" + PID + "\n \n")
    assert [segment.name for segment in parsed.segments] == ["MSH", "PID"]


def test_trailing_blanks_of_a_segment_are_dropped():
    """`…|F   ` ends with F: editors' trailing blanks carry no meaning."""
    assert parse(OBX + "  \t").first("OBX").value(11) == "F"


def test_text_joins_the_segments_with_cr():
    """`Message.text` is the decoded message, one CR between segments."""
    assert parse_message(HEADER + "\n" + PID + "\r\n").text == HEADER + "\r" + PID


# --- escape sequences ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [("\\F\\", "|"), ("\\S\\", "^"), ("\\T\\", "&"), ("\\R\\", "~"), ("\\E\\", "\\")],
    ids=["F-field", "S-component", "T-subcomponent", "R-repetition", "E-escape"],
)
def test_separator_escape_reads_as_the_separator(sequence, expected):
    """`\\F\\ \\S\\ \\T\\ \\R\\ \\E\\` stand for the message's own separators."""
    assert obx5(f"a{sequence}b") == f"a{expected}b"


def test_escaped_separator_does_not_split():
    """`A\\S\\B` is one component whose value holds a `^`."""
    pid = parse("PID|1||A\\S\\B^C").first("PID")
    assert pid is not None
    assert pid.components(3) == ["A^B", "C"]


def test_escape_sequences_follow_custom_separators():
    """With `!` as escape and `#` as subcomponent, `!T!` is `#`."""
    msh = "MSH|%&!#|LABO|BIOLAB|FMT|CABINET|20260620101500||ORU%R01|H1|P|2.5"
    assert obx5("a!T!b!E!c", msh=msh) == "a#b!c"


def test_hex_escape_is_decoded_in_utf8():
    """`\\XC3A9\\` is é in a UTF-8 message."""
    assert obx5("caf\\XC3A9\\") == "café"


def test_hex_escape_is_decoded_in_the_declared_charset():
    """`\\XE9\\` is é in an 8859/1 message."""
    raw = message("OBX|1|TX|X||caf\\XE9\\", msh=header("8859/1")).encode("latin-1")
    assert parse_message(raw).first("OBX").value(5) == "café"


def test_hex_escape_of_control_characters_is_decoded():
    """`\\X0D0A\\` is a CR LF inside the value."""
    assert obx5("a\\X0D0A\\b") == "a\r\nb"


def test_invalid_hex_escape_is_kept_as_written():
    """Odd-length or non-hex `\\X…\\`, or bytes invalid in the charset, stay as written."""
    assert obx5("a\\X0\\b") == "a\\X0\\b"
    assert obx5("a\\XZZ\\b") == "a\\XZZ\\b"
    assert obx5("a\\XE9\\b") == "a\\XE9\\b"  # a lone E9 is not UTF-8


def test_line_break_command_reads_as_a_newline():
    """`\\.br\\` is a line break."""
    assert obx5("ligne 1\\.br\\ligne 2") == "ligne 1\nligne 2"


def test_center_command_reads_as_a_newline():
    """`\\.ce\\` ends the line (the centring itself is layout)."""
    assert obx5("a\\.ce\\b") == "a\nb"


def test_skip_commands_read_as_newlines_or_spaces():
    """`\\.sp n\\` is n line breaks (1 by default), `\\.sk n\\` n spaces."""
    assert obx5("a\\.sp\\b") == "a\nb"
    assert obx5("a\\.sp2\\b") == "a\n\nb"
    assert obx5("a\\.sk3\\b") == "a   b"


def test_layout_commands_are_dropped():
    """`\\.fi\\ \\.nf\\ \\.in n\\ \\.ti n\\` only lay text out: they read as nothing."""
    assert obx5("\\.nf\\a\\.in+4\\b\\.ti-2\\c\\.fi\\") == "abc"


def test_highlighting_is_dropped():
    """`\\H\\` and `\\N\\` (highlight on and off) read as nothing."""
    assert obx5("a \\H\\important\\N\\ b") == "a important b"


def test_truncation_escape_reads_as_the_declared_truncation_character():
    """`\\P\\` is the truncation character of a five-character MSH-2."""
    assert obx5("a\\P\\b", msh=header(encoding="^~\\&#")) == "a#b"


def test_truncation_escape_without_truncation_character_is_kept():
    """Without a fifth MSH-2 character, `\\P\\` means nothing and stays."""
    assert obx5("a\\P\\b") == "a\\P\\b"


def test_unknown_escape_is_kept_as_written():
    """Charset switches, local `\\Z…\\` escapes and unknown commands stay as written."""
    assert obx5("a\\C2842\\b") == "a\\C2842\\b"
    assert obx5("a\\Zfoo\\b") == "a\\Zfoo\\b"
    assert obx5("a\\.xx\\b") == "a\\.xx\\b"


def test_unterminated_escape_is_kept_as_written():
    """An escape character without a closing one is plain text."""
    assert obx5("50\\F") == "50\\F"


def test_stray_escape_character_does_not_hide_the_next_sequence():
    """In `C:\\dir\\X41\\`, `\\dir\\` is unknown but `\\X41\\` still reads `A`."""
    assert obx5("C:\\dir\\X41\\") == "C:\\dirA"


def test_unescape_leaves_text_without_escape_untouched():
    """Text without the escape character is returned as is."""
    text = "no escape here"
    assert unescape(text, Encoding()) is text


# --- charsets -------------------------------------------------------------------------------


def test_declared_utf8_is_decoded():
    """`UNICODE UTF-8` decodes the bytes as UTF-8."""
    raw = message("PID|1||X||HÉLÈNE", msh=header("UNICODE UTF-8")).encode("utf-8")
    parsed = parse_message(raw)
    assert parsed.charset == "utf-8"
    assert parsed.first("PID").value(5) == "HÉLÈNE"


def test_declared_latin1_is_decoded():
    """`8859/1` decodes the bytes as latin-1."""
    raw = message("PID|1||X||HÉLÈNE", msh=header("8859/1")).encode("latin-1")
    parsed = parse_message(raw)
    assert parsed.charset == "latin-1"
    assert parsed.first("PID").value(5) == "HÉLÈNE"


def test_declared_latin9_reads_0xa4_as_the_euro_sign():
    """In `8859/15`, byte 0xA4 is €, where latin-1 has ¤."""
    raw = message("OBX|1|NM|X||12|", msh=header("8859/15")).encode("ascii") + b"\xa4"
    parsed = parse_message(raw)
    assert parsed.charset == "iso8859-15"
    assert parsed.first("OBX").value(6) == "€"


def test_declared_ascii_is_decoded():
    """`ASCII` decodes ASCII bytes."""
    assert parse_message(message(msh=header("ASCII")).encode()).charset == "ascii"


def test_usual_iso_8859_spelling_is_accepted():
    """`ISO-8859-1`, though not an HL7 table 0211 name, is unambiguous."""
    raw = message(msh=header("ISO-8859-1")).encode()
    assert parse_message(raw).charset == "latin-1"


def test_undeclared_utf8_is_decoded_as_utf8():
    """Without MSH-18, valid UTF-8 is read as UTF-8."""
    parsed = parse_message(message("PID|1||X||HÉLÈNE").encode("utf-8"))
    assert parsed.charset == "utf-8"
    assert parsed.first("PID").value(5) == "HÉLÈNE"


def test_undeclared_latin1_bytes_fall_back_to_cp1252():
    """Without MSH-18, bytes that are not UTF-8 are read as cp1252, and `charset` says so."""
    parsed = parse_message(message("PID|1||X||HÉLÈNE’S").encode("cp1252"))
    assert parsed.charset == "cp1252"
    assert parsed.first("PID").value(5) == "HÉLÈNE’S"


def test_undeclared_bytes_undefined_in_cp1252_fall_back_to_latin1():
    """0x81 is undefined in cp1252: latin-1, which decodes any byte, is the last resort."""
    parsed = parse_message(message("PID|1||X||A").encode() + b"\x81")
    assert parsed.charset == "latin-1"


def test_charset_name_is_the_first_repetition_as_written():
    """`charset_name` is MSH-18's first repetition; the codec follows it."""
    parsed = parse_message(message(msh=header("UTF-8~UNICODE")).encode())
    assert parsed.charset_name == "UTF-8"
    assert parsed.charset == "utf-8"


def test_unknown_charset_is_rejected_with_code_103():
    """An MSH-18 name outside the supported table is `103` at MSH-18."""
    error = error_of(message(msh=header("KLINGON")).encode())
    assert (error.code, error.location) == (103, "MSH-18")


def test_bytes_invalid_in_the_declared_charset_are_rejected_with_code_102():
    """Latin-1 bytes in a message that declares UTF-8 are `102` at MSH-18."""
    raw = message("PID|1||X||HÉLÈNE", msh=header("UNICODE UTF-8")).encode("latin-1")
    error = error_of(raw)
    assert (error.code, error.location) == (102, "MSH-18")


def test_non_ascii_bytes_in_an_ascii_message_are_rejected():
    """A message that declares `ASCII` cannot hold é."""
    error = error_of(message("PID|1||X||É", msh=header("ASCII")).encode("utf-8"))
    assert (error.code, error.location) == (102, "MSH-18")


def test_charset_is_read_after_blank_lines_before_msh():
    """Blank lines before MSH neither hide MSH-18 nor make the message invalid."""
    raw = b"\r\n \n" + message("PID|1||X||É", msh=header("8859/1")).encode("latin-1")
    parsed = parse_message(raw)
    assert parsed.charset == "latin-1"
    assert parsed.first("PID").value(5) == "É"


def test_utf8_bom_is_dropped():
    """A UTF-8 byte order mark before MSH is not part of the message."""
    parsed = parse_message(b"\xef\xbb\xbf" + message(PID).encode())
    assert parsed.text.startswith("MSH|")


def test_bom_is_dropped_from_text_input():
    """The same holds when the message is given as text."""
    assert parse_message("\ufeff" + message(PID)).msh.name == "MSH"


def test_text_input_uses_msh18_for_hex_escapes_only():
    """Given text, MSH-18 names the codec of `\\X…\\` escapes; nothing is decoded again."""
    parsed = parse_message(message("OBX|1|TX|X||\\XE9\\é", msh=header("8859/1")))
    assert parsed.charset == "latin-1"
    assert parsed.first("OBX").value(5) == "éé"


def test_decode_message_returns_text_and_codec():
    """`decode_message` gives the decoded text and the codec it used."""
    assert decode_message(message(msh=header("8859/1")).encode()) == (
        message(msh=header("8859/1")),
        "latin-1",
    )


# --- errors -----------------------------------------------------------------------------------


def test_message_not_starting_with_msh_is_rejected_with_code_100():
    """A first segment other than MSH is a segment sequence error at MSH."""
    error = error_of(message(msh=PID))
    assert (error.code, error.segment, error.segment_index) == (100, "MSH", 1)


def test_empty_input_is_rejected_with_code_100():
    """Nothing, or only blank lines, is not a message."""
    assert error_of(b"").code == 100
    assert error_of("\r\n \n").code == 100


def test_msh_without_field_separator_is_rejected_at_msh1():
    """`MSH` alone has no field separator."""
    error = error_of("MSH")
    assert (error.code, error.location) == (101, "MSH-1")


def test_short_msh_is_rejected_at_its_first_missing_required_field():
    """An MSH with 8 fields lacks MSH-9: `101` at MSH-9."""
    error = error_of("MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|20260620101500|")
    assert (error.code, error.location, error.err_location) == (101, "MSH-9", "MSH^1^9")
    assert "8 champs" in error.reason


def test_msh_with_eleven_fields_is_rejected_at_msh12():
    """MSH-12 (the version) must be there."""
    error = error_of(HEADER.rsplit("|", 1)[0])
    assert (error.code, error.location) == (101, "MSH-12")


@pytest.mark.parametrize("field", [9, 10, 12])
def test_empty_required_msh_field_is_rejected_with_code_101(field):
    """MSH-9 (type), MSH-10 (control id) and MSH-12 (version) cannot be empty."""
    fields = HEADER.split("|")
    fields[field - 1] = ""
    error = error_of("|".join(fields))
    assert (error.code, error.segment, error.segment_index, error.field) == (
        101,
        "MSH",
        1,
        field,
    )


def test_message_type_without_code_is_rejected():
    """MSH-9 `^R01` has no message code: it counts as empty."""
    error = error_of(HEADER.replace("ORU^R01^ORU_R01", "^R01"))
    assert (error.code, error.location) == (101, "MSH-9")


@pytest.mark.parametrize(
    "line",
    ["pid|1", "PI|1", "PIDX|1", "1AB|1", "  PID|1", "P-D|1", "ÉVN|1"],
    ids=[
        "lower-case",
        "two-chars",
        "four-chars",
        "digit-first",
        "indented",
        "dash",
        "accent",
    ],
)
def test_invalid_segment_name_is_rejected_with_code_100_and_its_position(line):
    """A segment name is three characters, `[A-Z][A-Z0-9]{2}`; the error gives its position."""
    error = error_of(message(PID, line))
    assert (error.code, error.segment_index) == (100, 3)
    assert "position 3" in error.reason


def test_second_msh_is_rejected_with_code_100():
    """Two messages run together are split first (`split_messages`), not parsed as one."""
    error = error_of(message(PID, HEADER))
    assert (error.code, error.segment, error.segment_index) == (100, "MSH", 3)


@pytest.mark.parametrize(
    "raw",
    [
        message(PID, f"{SECRET}^JEAN|1"),  # a stray line of text: invalid segment name
        message(msh=header(SECRET)).encode(),  # MSH-18
        message(msh=header("UNICODE UTF-8")).encode()
        + b"\r"
        + SECRET.encode()
        + b"\xe9",
        message(msh=header(encoding=f"^~\\{SECRET}")),  # MSH-2
        "|".join([*HEADER.split("|")[:9], "", SECRET, "2.5"]),  # MSH-10 empty
        f"{SECRET}|{HEADER}",  # not MSH first
    ],
    ids=["segment-name", "charset", "bad-bytes", "encoding", "msh10", "first-segment"],
)
def test_error_messages_never_quote_field_content(raw):
    """Every error names segment, position and field, never the text that was found there."""
    error = error_of(raw)
    assert SECRET not in str(error)
    assert SECRET not in error.reason
