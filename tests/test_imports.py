"""Imports: zone identifiers, the PILOTE, native and baromètre formats, all-or-nothing
validation with located problems, dry runs, empty cells, import batches, reverts, the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from core.db import session as db_session
from core.engine.values import ValueInput, save_values
from core.imports import ZoneError, ZoneResolver, import_file, parse_zone, revert_import
from core.imports.native import SCHEMA_PATH, load_schema, schema_columns
from core.imports.pilote_format import COLUMNS as PILOTE_COLUMNS
from core.models import (
    AuditEntry,
    Channel,
    Direction,
    ImportBatch,
    Indicator,
    IndicatorFigure,
    IndicatorValue,
    IndicatorValueRevision,
    Policy,
    TargetScope,
    Territory,
    ValueKind,
)
from core.testing.pytest_plugin import database_kind

BAROMETRE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "barometre"
HEADER = ";".join(PILOTE_COLUMNS)


# -- helpers -------------------------------------------------------------------------------------


def make_indicator(session, code, *, min_value=None, max_value=None, direction=Direction.INCREASE,
                   policy_code="P-IMPORT") -> Indicator:
    policy = session.scalar(select(Policy).where(Policy.code == policy_code))
    if policy is None:
        policy = Policy(code=policy_code, name="Politique importée")
        session.add(policy)
        session.flush()
    indicator = Indicator(code=code, name=f"Indicateur {code}", policy_id=policy.id,
                          direction=direction, aggregation_method="none",
                          min_value=min_value, max_value=max_value)
    session.add(indicator)
    session.commit()
    return indicator


def territory(session, level, code) -> int:
    return session.scalar(select(Territory.id).where(Territory.level == level, Territory.code == code,
                                                     Territory.valid_to.is_(None)))


def write_csv(path: Path, rows: list[str], bom=False) -> Path:
    path.write_text(("\ufeff" if bom else "") + "\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def write_xlsx(path: Path, header, rows) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def table_counts(session) -> dict[str, int]:
    return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (IndicatorValue, IndicatorValueRevision, ImportBatch, IndicatorFigure)}


def stored(session, code, level, zone, kind, date):
    return session.scalar(select(IndicatorValue).join(Indicator).where(
        Indicator.code == code, IndicatorValue.territory_id == territory(session, level, zone),
        IndicatorValue.kind == kind, IndicatorValue.date == date))


# -- zones ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone,hint,expected", [
    ("D75", None, ("department", "75")),
    ("D2A", None, ("department", "2A")),
    ("D2B", "DEPT", ("department", "2B")),
    ("d2a", None, ("department", "2A")),
    ("D971", None, ("department", "971")),
    ("D976", None, ("department", "976")),
    ("D01", None, ("department", "01")),
    ("D1", None, ("department", "01")),
    ("R84", None, ("region", "84")),
    ("R01", "REG", ("region", "01")),
    ("R06", None, ("region", "06")),
    ("FRANCE", None, ("nation", "FR")),
    ("France", "NAT", ("nation", "FR")),
    ("NAT-FR", None, ("nation", "FR")),
    ("DEPT-75", None, ("department", "75")),
    ("DEPT-2A", None, ("department", "2A")),
    ("REG-11", None, ("region", "11")),
    ("department-2B", None, ("department", "2B")),
    ("region-84", "region", ("region", "84")),
    ("75", "DEPT", ("department", "75")),
    ("75", "REG", ("region", "75")),
    ("75", "department", ("department", "75")),
    ("2A", None, ("department", "2A")),
    ("2A", "DEPT", ("department", "2A")),
    (" 971 ", "dept", ("department", "971")),
    ("971", None, ("department", "971")),
    ("84", "REG", ("region", "84")),
    ("FR", "nation", ("nation", "FR")),
])
def test_zone_forms_map_to_territories(app, zone, hint, expected):
    with app.app_context():
        session = db_session()
        tid = ZoneResolver(session).resolve(zone, hint)
        found = session.get(Territory, tid)
        assert (found.level, found.code) == expected


@pytest.mark.parametrize("zone,hint,reason", [
    ("D99", None, "unknown zone: no current department with the code 99"),
    ("R99", None, "unknown zone: no current region with the code 99"),
    ("D975", None, "unknown zone"),  # Saint-Pierre-et-Miquelon: not a loaded department
    ("D20", None, "unknown zone"),  # Corsica before 1976
    ("75", None, "ambiguous zone: department 75 or region 75"),
    ("D75", "REG", "zone D75 is a department, but the level given is region"),
    ("FRANCE", "DEPT", "zone FRANCE is a nation, but the level given is department"),
    ("Paris", None, "unrecognised zone identifier"),
    ("", None, "empty zone"),
    ("75", "epci", "unknown zone: the level epci is not loaded"),
])
def test_unknown_or_ambiguous_zones_are_refused_with_the_reason(app, zone, hint, reason):
    with app.app_context():
        resolver = ZoneResolver(db_session())
        with pytest.raises(ZoneError, match=reason.replace("(", r"\(")):
            resolver.resolve(zone, hint)
        assert resolver.try_resolve(zone, hint)[0] is None


def test_parse_zone_without_database():
    assert parse_zone("D2A").level == "department"
    assert parse_zone("75").level is None  # the level is decided by the resolver
    assert parse_zone("REG-01") == parse_zone("R1") == parse_zone("1", "REG")
    with pytest.raises(ZoneError):
        parse_zone("R84", "DEPT")


# -- PILOTE format: good files ---------------------------------------------------------------------


GOOD_ROWS = [
    "IND-901;FRANCE;France;2022-01-01;vi;10",
    "IND-901;FRANCE;France;2024-03-01;va;\"12,5\"",
    "IND-901;FRANCE;France;2026-12-31;vc;20",
    "IND-901;FRANCE;;2025-12-31;VC;15",
    "IND-901;D2A;Corse-du-Sud;15/06/2024;va;14",
    "IND-901;DEPT-971;Guadeloupe;06-01-24;va;7.25",
    "IND-901;R84;;2024-06-01;va;",
]


def check_good_import(session, report, path):
    assert report.ok, report.render()
    assert report.applied and not report.dry_run
    assert report.counts["rows"] == 7
    assert (report.counts["created"], report.counts["skipped_empty"]) == (6, 1)
    assert report.preview == {"IND-901": {"created": 6, "updated": 0, "unchanged": 0, "erased": 0,
                                          "skipped_empty": 1}}
    batch = session.get(ImportBatch, report.batch_id)
    assert batch.format == "pilote" and batch.filename == path.name
    assert batch.file_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert batch.counts["created"] == 6 and batch.counts["rows"] == 7
    day = dt.date(2024, 3, 1)
    assert stored(session, "IND-901", "nation", "FR", ValueKind.ACTUAL, day).value == Decimal("12.5")
    assert stored(session, "IND-901", "department", "2A", ValueKind.ACTUAL, dt.date(2024, 6, 15)).value == 14
    day = dt.date(2024, 6, 1)
    assert stored(session, "IND-901", "department", "971", ValueKind.ACTUAL, day).value == Decimal("7.25")
    assert stored(session, "IND-901", "region", "84", ValueKind.ACTUAL, dt.date(2024, 6, 1)) is None
    final = stored(session, "IND-901", "nation", "FR", ValueKind.TARGET, dt.date(2026, 12, 31))
    annual = stored(session, "IND-901", "nation", "FR", ValueKind.TARGET, dt.date(2025, 12, 31))
    assert (final.target_scope, annual.target_scope) == (TargetScope.FINAL, TargetScope.ANNUAL)
    assert final.channel == Channel.IMPORT
    revisions = session.scalars(select(IndicatorValueRevision)).all()
    assert len(revisions) == 6 and {r.import_id for r in revisions} == {batch.id}
    figure = session.scalar(select(IndicatorFigure).where(
        IndicatorFigure.territory_id == territory(session, "nation", "FR")))
    assert figure.overall == Decimal("25.00")  # 100 × (12.5 − 10) / (20 − 10)


def test_pilote_csv_imports(app, tmp_path):
    path = write_csv(tmp_path / "valeurs.csv", GOOD_ROWS, bom=True)
    with app.app_context():
        session = db_session()
        make_indicator(session, "IND-901")
        report = import_file(session, "pilote", path, author_label="tester")
        check_good_import(session, report, path)
        assert session.get(ImportBatch, report.batch_id).author_label == "tester"


def test_pilote_xlsx_imports(app, tmp_path):
    rows = [
        ("IND-901", "FRANCE", "France", "2022-01-01", "vi", 10),
        ("IND-901", "FRANCE", "France", dt.datetime(2024, 3, 1), "va", 12.5),
        ("IND-901", "FRANCE", "France", "2026-12-31", "vc", 20),
        ("IND-901", "France", None, dt.date(2025, 12, 31), "VC", "15"),
        ("IND-901", "D2A", "Corse-du-Sud", "15/06/2024", "va", 14),
        ("IND-901", "DEPT-971", "Guadeloupe", "06-01-24", "va", 7.25),
        ("IND-901", "R84", None, "2024-06-01", "va", None),
        (None, None, None, None, None, None),  # an empty row, as spreadsheets leave them
    ]
    path = write_xlsx(tmp_path / "valeurs.xlsx", PILOTE_COLUMNS, rows)
    with app.app_context():
        session = db_session()
        make_indicator(session, "IND-901")
        report = import_file(session, "pilote", path)
        check_good_import(session, report, path)


# -- PILOTE format: bad files ----------------------------------------------------------------------

BAD_ROWS = [
    ("IND-999", "D75", "", "2024-01-01", "va", "1"),          # row 2: unknown indicator
    ("IND-902", "D99", "", "2024-01-01", "va", "1"),          # row 3: unknown zone
    ("IND-902", "D75", "", "2023-06-31", "va", "1"),          # row 4: not a real date
    ("IND-902", "D13", "", "2024-01-01", "va", "abc"),        # row 5: not a number
    ("IND-902", "R84", "", "2024-01-01", "va", "50"),         # row 6
    ("IND-902", "REG-84", "", "2024-01-01", "va", "51"),      # row 7: duplicate of row 6
    ("IND-902", "FRANCE", "", "2024-01-01", "va", "150"),     # row 8: out of range
    ("IND-902", "D01", "", "2024-01-01", "vx", "1"),          # row 9: unknown type
    ("IND-902", "D02", "", "2024-01-01", "va", "5"),          # row 10: fine on its own
]


def expected_problems(name):
    return {
        (name, 2, "identifiant_indic", "IND-999", "unknown indicator"),
        (name, 3, "zone_id", "D99", "unknown zone: no current department with the code 99"),
        (name, 4, "date_valeur", "2023-06-31", "not a real date: 2023-06 has 30 days"),
        (name, 5, "valeur", "abc", "not a number"),
        (name, 7, None, None, "duplicate row: same indicator, zone, date and type as row 6"),
        (name, 8, "valeur", "150", "out of the declared range of IND-902 (0 to 100)"),
        (name, 9, "type_valeur", "vx", "unknown type (expected vi, va or vc)"),
    }


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_a_bad_file_lists_every_problem_and_writes_nothing(app, tmp_path, suffix):
    name = f"mauvais.{suffix}"
    if suffix == "csv":
        path = write_csv(tmp_path / name, [";".join(r) for r in BAD_ROWS])
    else:
        path = write_xlsx(tmp_path / name, PILOTE_COLUMNS, BAD_ROWS)
    with app.app_context():
        session = db_session()
        make_indicator(session, "IND-902", min_value=0, max_value=100)
        entry = ValueInput(session.scalar(select(Indicator.id)), territory(session, "department", "02"),
                           ValueKind.ACTUAL, dt.date(2024, 1, 1), Decimal(4))
        save_values(session, [entry], channel=Channel.FORM)
        session.commit()
        before = table_counts(session)
        report = import_file(session, "pilote", path)
        assert not report.ok and not report.applied and report.batch_id is None
        found = {(p.file, p.row, p.column, p.value, p.reason) for p in report.problems}
        assert found == expected_problems(name)
        assert table_counts(session) == before
        assert stored(session, "IND-902", "department", "02", ValueKind.ACTUAL, dt.date(2024, 1, 1)).value == 4
        text_report = report.render()
        assert f'{name}:5: column valeur: "abc": not a number' in text_report
        assert f"{name}:7: duplicate row: same indicator, zone, date and type as row 6" in text_report
        assert "7 problem(s); nothing was written" in text_report


def test_header_problems_are_reported(app, tmp_path):
    path = tmp_path / "entete.csv"
    path.write_text("identifiant_indic;zone;date_valeur;type_valeur;valeur;valeur\nIND-1;D75;2024-01-01;va;1;1\n",
                    encoding="utf-8")
    latin = tmp_path / "latin1.csv"
    latin.write_bytes((HEADER + "\nIND-1;D75;Hérault;2024-01-01;va;1\n").encode("latin-1"))
    with app.app_context():
        report = import_file(db_session(), "pilote", path)
        found = {(p.row, p.column, p.reason.split(" (")[0]) for p in report.problems}
        assert found == {(1, "zone", "unknown column"), (1, "valeur", "duplicate column"),
                         (1, "zone_id", "missing column")}
        report = import_file(db_session(), "pilote", latin)
        assert len(report.problems) == 1 and "not UTF-8" in report.problems[0].reason


def test_comma_separated_files_loose_headers_and_extra_cells(app, tmp_path):
    path = tmp_path / "virgules.csv"
    path.write_text(" Identifiant_Indic ,ZONE_ID,date_valeur,type_valeur,valeur\n"
                    "IND-911,D75,2024-01-01,va,3\n"
                    "IND-911,D13,2024-01-01,va,4,oops\n", encoding="utf-8")
    with app.app_context():
        session = db_session()
        make_indicator(session, "IND-911")
        report = import_file(session, "pilote", path)
        assert [(p.row, p.value, p.reason) for p in report.problems] == [
            (3, "oops", "1 cell(s) beyond the last column of the header")]
        path.write_text(path.read_text(encoding="utf-8").replace(",oops", "").replace(",3\n", ",0.1234567891\n"),
                        encoding="utf-8")
        report = import_file(session, "pilote", path)
        assert report.counts["created"] == 2
        assert report.warnings == ["1 value(s) had more than 8 decimals: rounded to 8 (what Pilote stores)"]
        assert stored(session, "IND-911", "department", "75", ValueKind.ACTUAL,
                      dt.date(2024, 1, 1)).value == Decimal("0.12345679")
        huge = tmp_path / "enorme.csv"
        write_csv(huge, ["IND-911;D75;;2024-02-01;va;123456789012345678901", "IND-911;D75;;2024-03-01;va;1e30"])
        assert [(p.row, p.reason) for p in import_file(session, "pilote", huge).problems] == [
            (2, "too large (at most 20 digits before the decimal mark)"),
            (3, "too large (at most 20 digits before the decimal mark)")]


# -- dry run, empty cells ---------------------------------------------------------------------------


def test_dry_run_writes_nothing_and_previews(app, tmp_path):
    first = write_csv(tmp_path / "premier.csv", [
        "IND-903;D75;;2024-01-01;va;10", "IND-903;D13;;2024-01-01;va;20", "IND-903;D69;;2024-01-01;va;30"])
    second = write_csv(tmp_path / "second.csv", [
        "IND-903;D75;;2024-01-01;va;11",   # updated
        "IND-903;D13;;2024-01-01;va;20",   # unchanged
        "IND-903;D69;;2024-01-01;va;",     # empty: skipped
        "IND-903;D33;;2024-01-01;va;40",   # created
        "IND-904;D33;;2024-01-01;va;1",    # created, another indicator
    ])
    with app.app_context():
        session = db_session()
        make_indicator(session, "IND-903")
        make_indicator(session, "IND-904")
        assert import_file(session, "pilote", first).applied
        before = table_counts(session)
        audit_before = session.scalar(select(func.count()).select_from(AuditEntry))
        report = import_file(session, "pilote", second, dry_run=True)
        assert report.ok and report.dry_run and not report.applied and report.batch_id is None
        assert report.preview == {
            "IND-903": {"created": 1, "updated": 1, "unchanged": 1, "erased": 0, "skipped_empty": 1},
            "IND-904": {"created": 1, "updated": 0, "unchanged": 0, "erased": 0, "skipped_empty": 0},
        }
        assert report.sample[0] == {
            "file": "second.csv", "row": 2, "indicator": "IND-903", "territory": "department-75",
            "kind": "actual", "date": "2024-01-01", "value": "11", "target_scope": None,
            "previous": "10", "outcome": "updated"}
        assert [r["outcome"] for r in report.sample] == ["updated", "unchanged", "skipped_empty",
                                                         "created", "created"]
        rendered = report.render()
        assert "second.csv:2: IND-903 department-75 actual 2024-01-01 = 11 → updated" in rendered
        assert "Dry run: nothing was written." in rendered
        assert report.warnings == []
        again = import_file(session, "pilote", first, dry_run=True)
        assert again.warnings and again.warnings[0].startswith("the same file was already imported as #")
        assert again.counts["unchanged"] == 3
        session.rollback()
        assert table_counts(session) == before
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before
        assert stored(session, "IND-903", "department", "75", ValueKind.ACTUAL, dt.date(2024, 1, 1)).value == 10
        # the preview of an erasing run counts the erased value
        report = import_file(session, "pilote", second, dry_run=True, erase_empty=True)
        assert report.preview["IND-903"]["erased"] == 1 and report.preview["IND-903"]["skipped_empty"] == 0
        # and the real run does what the preview said
        applied = import_file(session, "pilote", second)
        assert {k: applied.counts[k] for k in ("created", "updated", "unchanged", "skipped_empty")} == \
            {"created": 2, "updated": 1, "unchanged": 1, "skipped_empty": 1}


def test_empty_cells_never_erase_unless_asked(app, tmp_path):
    first = write_csv(tmp_path / "a.csv", ["IND-905;D75;;2024-01-01;va;10", "IND-905;D13;;2024-01-01;va;20"])
    blanks = write_csv(tmp_path / "b.csv", ["IND-905;D75;;2024-01-01;va;", "IND-905;D13;;2024-01-01;va;null",
                                            "IND-905;D69;;2024-01-01;va;"])
    with app.app_context():
        session = db_session()
        make_indicator(session, "IND-905")
        import_file(session, "pilote", first)
        kept = import_file(session, "pilote", blanks)
        assert kept.ok and kept.counts["skipped_empty"] == 3 and kept.counts["erased"] == 0
        assert stored(session, "IND-905", "department", "75", ValueKind.ACTUAL, dt.date(2024, 1, 1)).value == 10
        erased = import_file(session, "pilote", blanks, erase_empty=True)
        assert erased.counts["erased"] == 2 and erased.counts["skipped_empty"] == 1  # D69 had nothing
        value = stored(session, "IND-905", "department", "75", ValueKind.ACTUAL, dt.date(2024, 1, 1))
        assert value.value is None
        history = session.scalars(select(IndicatorValueRevision.value).where(
            IndicatorValueRevision.value_id == value.id).order_by(IndicatorValueRevision.revision)).all()
        assert history == [Decimal(10), None]
        assert stored(session, "IND-905", "department", "69", ValueKind.ACTUAL, dt.date(2024, 1, 1)) is None


# -- batches and revert ---------------------------------------------------------------------------


def test_revert_restores_previous_values_once(app, tmp_path):
    first = write_csv(tmp_path / "v1.csv", [
        "IND-906;FRANCE;;2022-01-01;vi;0", "IND-906;FRANCE;;2024-01-01;va;40",
        "IND-906;FRANCE;;2026-12-01;vc;100", "IND-906;D75;;2024-01-01;va;5"])
    second = write_csv(tmp_path / "v2.csv", [
        "IND-906;FRANCE;;2024-01-01;va;60",   # updated
        "IND-906;FRANCE;;2024-06-01;va;70",   # created
        "IND-906;D75;;2024-01-01;va;",        # erased (with --erase-empty)
        "IND-906;FRANCE;;2022-01-01;vi;0"])   # unchanged
    with app.app_context():
        session = db_session()
        make_indicator(session, "IND-906")
        one = import_file(session, "pilote", first)
        nation = territory(session, "nation", "FR")

        def overall():
            session.expire_all()
            return session.scalar(select(IndicatorFigure.overall).where(
                IndicatorFigure.territory_id == nation))

        assert overall() == Decimal("40.00")
        two = import_file(session, "pilote", second, erase_empty=True)
        assert [two.counts[k] for k in ("updated", "created", "erased", "unchanged")] == [1, 1, 1, 1]
        assert overall() == Decimal("70.00")
        assert session.scalar(select(func.count()).select_from(IndicatorValueRevision).where(
            IndicatorValueRevision.import_id == two.batch_id)) == 3

        result = revert_import(session, two.batch_id)
        assert result.ok, result.render()
        assert result.counts["values"] == 3
        assert stored(session, "IND-906", "nation", "FR", ValueKind.ACTUAL, dt.date(2024, 1, 1)).value == 40
        assert stored(session, "IND-906", "nation", "FR", ValueKind.ACTUAL, dt.date(2024, 6, 1)).value is None
        assert stored(session, "IND-906", "department", "75", ValueKind.ACTUAL, dt.date(2024, 1, 1)).value == 5
        assert overall() == Decimal("40.00")
        batch = session.get(ImportBatch, two.batch_id)
        assert batch.reverted_at is not None and batch.counts["reverted"]["updated"] == 2
        assert session.get(ImportBatch, one.batch_id).reverted_at is None

        again = revert_import(session, two.batch_id)
        assert not again.ok and "already reverted" in again.problems[0].reason
        assert not revert_import(session, 9999).ok


def test_revert_is_refused_when_a_value_was_written_since(app, tmp_path):
    path = write_csv(tmp_path / "v.csv", ["IND-907;D75;;2024-01-01;va;5", "IND-907;D13;;2024-01-01;va;6"])
    with app.app_context():
        session = db_session()
        indicator = make_indicator(session, "IND-907")
        report = import_file(session, "pilote", path)
        save_values(session, [ValueInput(indicator.id, territory(session, "department", "13"),
                                         ValueKind.ACTUAL, dt.date(2024, 1, 1), Decimal(8))],
                    channel=Channel.FORM)
        session.commit()
        before = table_counts(session)
        result = revert_import(session, report.batch_id)
        assert not result.ok and len(result.problems) == 1
        assert result.problems[0].reason.startswith("IND-907 department-13 actual 2024-01-01: written again")
        assert "form" in result.problems[0].reason
        assert table_counts(session) == before
        assert session.get(ImportBatch, report.batch_id).reverted_at is None
        assert stored(session, "IND-907", "department", "75", ValueKind.ACTUAL, dt.date(2024, 1, 1)).value == 5


# -- native format ----------------------------------------------------------------------------------


def test_native_schema_is_valid_and_matches_the_parser():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    names = [f["name"] for f in schema["fields"]]
    assert names == ["indicator", "territory_level", "territory_code", "kind", "date", "value",
                     "target_scope", "source"]
    assert schema == load_schema()
    allowed, required = schema_columns()
    assert set(required) == {"indicator", "territory_level", "territory_code", "kind", "date", "value"}
    assert set(allowed) == set(names)
    assert set(schema["primaryKey"]) <= set(required)
    fields = {f["name"]: f for f in schema["fields"]}
    assert fields["kind"]["constraints"]["enum"] == [k.value for k in ValueKind]
    assert fields["target_scope"]["constraints"]["enum"] == [s.value for s in TargetScope]
    assert {f["type"] for f in schema["fields"]} <= {"string", "number", "date"}
    for field in schema["fields"]:
        assert field.get("title") and field.get("description"), field["name"]


def test_native_file_imports(app, tmp_path):
    path = tmp_path / "natif.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["indicator", "territory_level", "territory_code", "kind", "date", "value",
                         "target_scope", "source"])
        writer.writerows([
            ["IND-908", "nation", "FR", "baseline", "2022-01-01", "10", "", "INSEE"],
            ["IND-908", "nation", "FR", "actual", "2024-01-01", "15.5", "", ""],
            ["IND-908", "nation", "FR", "target", "2026-01-01", "20", "annual", ""],
            ["IND-908", "nation", "FR", "target", "2025-01-01", "30", "final", ""],
            ["IND-908", "department", "2A", "actual", "2024-01-01", "3", "", ""],
            ["IND-908", "region", "01", "actual", "2024-01-01", "", "", ""],
        ])
    xlsx = write_xlsx(tmp_path / "natif.xlsx", ["indicator", "territory_level", "territory_code", "kind",
                                                 "date", "value"],
                      [("IND-908", "department", "971", "actual", "2024-02-01", 4)])
    with app.app_context():
        session = db_session()
        make_indicator(session, "IND-908")
        report = import_file(session, "native", path)
        assert report.ok, report.render()
        assert (report.counts["created"], report.counts["skipped_empty"]) == (5, 1)
        explicit = stored(session, "IND-908", "nation", "FR", ValueKind.TARGET, dt.date(2025, 1, 1))
        assert explicit.target_scope == TargetScope.FINAL  # as given, not inferred
        baseline = stored(session, "IND-908", "nation", "FR", ValueKind.BASELINE, dt.date(2022, 1, 1))
        assert baseline.source == "INSEE"
        figure = session.scalar(select(IndicatorFigure.overall).where(
            IndicatorFigure.territory_id == territory(session, "nation", "FR")))
        assert figure == Decimal("55.00")  # latest-dated target (2026: 20), 100 × 5.5 / 10
        assert import_file(session, "native", xlsx).counts["created"] == 1


def test_native_schema_violations_are_located(app, tmp_path):
    path = tmp_path / "natif.csv"
    path.write_text(
        "indicator,territory_level,territory_code,kind,date,value,target_scope\n"
        "IND-909,department,75,forecast,2024-01-01,1,\n"        # 2: kind not in enum
        "IND-909,department,75,actual,2024-13-01,1,\n"          # 3: no month 13
        "IND-909,department,75,actual,01/02/2024,1,\n"          # 4: not ISO
        "IND-909,department,75,actual,2024-03-01,\"1,5\",\n"    # 5: decimal comma
        "IND-909,department,,actual,2024-04-01,1,\n"            # 6: missing required
        "IND-909,department,75,actual,2024-05-01,1,final\n"     # 7: scope on an actual
        "IND-909,Department,75,actual,2024-06-01,1,\n"          # 8: level pattern
        "IND-909,department,75,target,2024-07-01,1,yearly\n"    # 9: scope not in enum
        "IND-909,canton,75,actual,2024-08-01,1,\n",             # 10: level not loaded
        encoding="utf-8")
    with app.app_context():
        session = db_session()
        make_indicator(session, "IND-909")
        before = table_counts(session)
        report = import_file(session, "native", path)
        found = {(p.row, p.column, p.value, p.reason) for p in report.problems}
        assert found == {
            (2, "kind", "forecast", "not one of baseline, actual, target"),
            (3, "date", "2024-13-01", "not a real date: there is no month 13"),
            (4, "date", "01/02/2024", "not a date (expected YYYY-MM-DD)"),
            (5, "value", "1,5", "not a number"),
            (6, "territory_code", "", "missing value (required)"),
            (7, "target_scope", "final", "only a target has a scope (leave it empty for baseline and actual)"),
            (8, "territory_level", "Department", "does not match the pattern [a-z][a-z0-9_]*"),
            (9, "target_scope", "yearly", "not one of annual, final"),
            (10, "territory_code", "75", "unknown zone: the level canton is not loaded in this instance"),
        }
        assert all(p.file == "natif.csv" for p in report.problems)
        assert table_counts(session) == before


# -- baromètre folder (small) -------------------------------------------------------------------------


def tiny_barometre(tmp_path: Path, indicators=("IND-200", "IND-297")) -> Path:
    """Two real indicator files and the metadata they need, copied from the shared folder."""
    if not (BAROMETRE / "metadata" / "meta_indicateurs.csv").is_file():
        pytest.skip(f"baromètre data not found at {BAROMETRE} (it is kept outside the repository)")
    folder = tmp_path / "barometre"
    (folder / "data").mkdir(parents=True)
    (folder / "metadata").mkdir()
    for code in indicators:
        shutil.copy(BAROMETRE / "data" / f"ind-{code[4:]}.csv", folder / "data")

    def filtered(name, keep):
        with open(BAROMETRE / "metadata" / name, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = [r for r in reader if keep(r)]
            fields = reader.fieldnames
        with open(folder / "metadata" / name, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fields)
            writer.writeheader()
            writer.writerows(rows)
        return rows

    metas = filtered("meta_indicateurs.csv", lambda r: r["indic_id"] in indicators)
    policies = {r["indic_parent_ch"] for r in metas}
    chantiers = filtered("meta_chantiers.csv", lambda r: r["chantier_id"] in policies)
    filtered("meta_engagement.csv", lambda r: r["engagement_short"] in {c["engagement_short"] for c in chantiers})
    return folder


def test_barometre_folder_imports_metadata_and_values(app, tmp_path):
    folder = tiny_barometre(tmp_path)
    with app.app_context():
        session = db_session()
        dry = import_file(session, "barometre", folder, dry_run=True)
        assert dry.ok, dry.render()
        assert dry.metadata["indicator"] == {"created": 2, "updated": 0, "unchanged": 0}
        assert session.scalar(select(func.count()).select_from(Indicator)) == 0
        report = import_file(session, "barometre", folder)
        assert report.ok and report.counts["created"] == report.counts["values"] == dry.counts["created"]
        indicator = session.scalar(select(Indicator).where(Indicator.code == "IND-297"))
        assert indicator.direction == Direction.DECREASE and indicator.aggregation_method == "none"
        assert indicator.policy.status.value == "published" and indicator.policy.kind == "priority_policy"
        assert indicator.policy.group is not None
        assert {w.level for w in indicator.weights} == {"nation", "region", "department"}
        targets = session.scalars(select(IndicatorValue.target_scope).where(
            IndicatorValue.indicator_id == indicator.id, IndicatorValue.kind == ValueKind.TARGET)).all()
        assert targets and set(targets) == {TargetScope.FINAL}  # one target per zone here
        assert session.scalar(select(func.count()).select_from(IndicatorFigure).where(
            IndicatorFigure.indicator_id == indicator.id, IndicatorFigure.overall.is_not(None))) >= 100


def test_barometre_problems_are_located(app, tmp_path):
    folder = tiny_barometre(tmp_path)
    data = folder / "data" / "ind-200.csv"
    lines = data.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace("79.58", "n/a")  # row 2, indic_va
    lines[2] = lines[2].replace("D01", "D00")     # row 3, zone
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    other = folder / "data" / "ind-297.csv"
    lines = other.read_text(encoding="utf-8").splitlines()
    total = len(lines)
    # a published export may repeat a row: the same value is tolerated, another value is not
    lines += [lines[1], lines[2].replace(",2.54,", ",2.55,")]
    other.write_text("\n".join(lines) + "\n", encoding="utf-8")
    meta = folder / "metadata" / "meta_indicateurs.csv"
    meta.write_text(meta.read_text(encoding="utf-8").replace(",hausse,", ",monte,", 1), encoding="utf-8")
    with app.app_context():
        session = db_session()
        report = import_file(session, "barometre", folder)
        found = {(p.file, p.row, p.column, p.value) for p in report.problems}
        assert ("data/ind-200.csv", 2, "indic_va", "n/a") in found
        assert ("data/ind-200.csv", 3, "enforce_zone_id", "D00") in found
        assert ("metadata/meta_indicateurs.csv", 2, "tendance", "monte") in found
        assert lines[2] == "IND-297,D01,2022-12-01,DEPT,,2.54,,"  # the real data this test edits
        assert ("data/ind-297.csv", total + 2, None, None) in found
        assert len(found) == 4, report.render()
        duplicate = next(p for p in report.problems if p.row == total + 2)
        assert duplicate.reason == "duplicate row: same indicator, zone, date and type as row 3"
        assert "1 duplicate row(s) repeating the same value: ignored" in report.warnings
        assert session.scalar(select(func.count()).select_from(Indicator)) == 0
        assert session.scalar(select(func.count()).select_from(Policy)) == 0


# -- command line ---------------------------------------------------------------------------------------


@pytest.fixture
def pilote_cli(tmp_path, database_factory, monkeypatch):
    """``run(*args)`` runs ``pilote …`` with the import group, on a migrated database holding the
    reference territories; ``engine`` reaches the same database."""
    import core.app
    from core.cli import cli
    from core.imports.cli import import_group

    if "import" not in cli.commands:
        cli.add_command(import_group)
    if database_kind() == "postgresql":
        url = database_factory.new()
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    apps = []
    real_create_app = core.app.create_app

    def tracking_create_app(*args, **kwargs):
        app = real_create_app(*args, **kwargs)
        apps.append(app)
        return app

    monkeypatch.setattr(core.app, "create_app", tracking_create_app)
    env = {"PILOTE_DATABASE_URL": url, "PILOTE_VAR_DIR": str(tmp_path / "var"), "PILOTE_INSTANCE": "ditp",
           "PILOTE_SECRET_KEY": None, "PILOTE_REDIS_URL": None}
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, list(args), env=env)

    for setup in (("db", "upgrade"), ("seed", "empty")):
        result = run(*setup)
        assert result.exit_code == 0, result.output
    engine = create_engine(url)
    run.engine = engine
    yield run
    engine.dispose()
    for app in apps:
        app.extensions["pilote"].db.dispose()


def test_cli_pilote_dry_run_bad_file_apply_list_revert(pilote_cli, tmp_path):
    with Session(pilote_cli.engine) as session:
        policy = Policy(code="P-CLI", name="Politique")
        session.add(policy)
        session.flush()
        session.add(Indicator(code="IND-910", name="Indicateur", policy_id=policy.id, max_value=100))
        session.commit()

    def values():
        with Session(pilote_cli.engine) as session:
            return session.scalar(select(func.count()).select_from(IndicatorValue))

    good = write_csv(tmp_path / "bon.csv", ["IND-910;FRANCE;;2022-01-01;vi;10", "IND-910;D75;;2024-01-01;va;12"])
    bad = write_csv(tmp_path / "mauvais.csv", ["IND-910;D75;;2024-01-01;va;abc", "IND-910;D75;;2024-02-01;va;101"])

    result = pilote_cli("import", "pilote", str(good), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "IND-910: 2 / 0 / 0 / 0 / 0" in result.output and "Dry run: nothing was written." in result.output
    assert values() == 0

    result = pilote_cli("import", "pilote", str(bad))
    assert result.exit_code == 1, result.output
    assert 'mauvais.csv:2: column valeur: "abc": not a number' in result.output
    assert 'mauvais.csv:3: column valeur: "101": out of the declared range of IND-910 (−∞ to 100)' in result.output
    assert "Traceback" not in result.output
    assert values() == 0

    result = pilote_cli("import", "pilote", str(good))
    assert result.exit_code == 0, result.output
    assert "Applied as import #1." in result.output and values() == 2
    result = pilote_cli("import", "list")
    assert result.exit_code == 0 and "#1 " in result.output and "bon.csv" in result.output
    assert "applied" in result.output and "cli:" in result.output

    result = pilote_cli("import", "revert", "1")
    assert result.exit_code == 0, result.output
    assert "Import #1 reverted." in result.output
    with Session(pilote_cli.engine) as session:
        assert session.scalars(select(IndicatorValue.value)).all() == [None, None]
    result = pilote_cli("import", "revert", "1")
    assert result.exit_code == 1 and "already reverted" in result.output
    assert "reverted" in pilote_cli("import", "list").output


def test_cli_barometre_and_native(pilote_cli, tmp_path):
    folder = tiny_barometre(tmp_path, ("IND-200",))
    result = pilote_cli("import", "barometre", str(folder), "--dry-run")
    assert result.exit_code == 0, result.output
    with Session(pilote_cli.engine) as session:
        assert session.scalar(select(func.count()).select_from(Indicator)) == 0
    result = pilote_cli("import", "barometre", str(folder))
    assert result.exit_code == 0, result.output
    with Session(pilote_cli.engine) as session:
        count = session.scalar(select(func.count()).select_from(IndicatorValue))
        assert count > 0 and f"created: {count}" in result.output
        assert session.scalar(select(func.count()).select_from(IndicatorFigure)) > 0

    native = tmp_path / "natif.csv"
    native.write_text("indicator,territory_level,territory_code,kind,date,value\n"
                      "IND-200,department,2B,actual,2030-01-01,99\n"
                      "IND-200,department,2C,actual,2030-01-01,99\n", encoding="utf-8")
    result = pilote_cli("import", "native", str(native))
    assert result.exit_code == 1
    assert 'natif.csv:3: column territory_code: "2C": unrecognised zone identifier' in result.output
    with Session(pilote_cli.engine) as session:
        assert session.scalar(select(func.count()).select_from(IndicatorValue)) == count


# -- cell readers --------------------------------------------------------------------------------------


def test_numbers_and_dates_as_pilote_reads_them():
    from core.imports.pilote_format import parse_date, parse_number

    assert parse_number(0.1 + 0.2) == Decimal("0.3")  # an XLSX double, as Excel shows it
    assert parse_number(7) == 7 and parse_number("12,5") == Decimal("12.5") and parse_number(" -3 ") == -3
    assert parse_number("") is None and parse_number(None) is None and parse_number("null") is None
    for bad in ("abc", "1 000,5x", "1.000,5", "NaN", "Infinity", "12%", True, float("nan")):
        with pytest.raises(ValueError, match="not a number"):
            parse_number(bad)
    assert parse_date("2024-06-01") == parse_date("01/06/2024") == parse_date("06-01-24") == dt.date(2024, 6, 1)
    assert parse_date(dt.datetime(2024, 6, 1, 0, 0)) == dt.date(2024, 6, 1)
    with pytest.raises(ValueError, match="2023-06 has 30 days"):
        parse_date("2023-06-31")  # refused, as PILOTE's check refuses it (no silent 06-30)
    with pytest.raises(ValueError, match="2023-02 has 28 days"):
        parse_date("30/02/2023")
    with pytest.raises(ValueError, match="expected YYYY-MM-DD"):
        parse_date("01/06/2024", iso_only=True)
