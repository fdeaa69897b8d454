"""PDF reports and one-page briefs: content, contents table, page numbers, permissions, the
report_sections hook and the CLI. The PDFs are opened with pypdf and their text checked."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from core.api import Policy, PolicyFigure, ReportSection, Territory, User, db_session, hookimpl
from core.reports.model import Selection, SelectionError
from core.reports.service import make_pdf
from core.templating import percent

DOMAIN = "demo.pilote.example"


def pages_text(data: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def user(email: str) -> User:
    return db_session().scalar(select(User).where(func.lower(User.email) == email))


def territory(key: str) -> Territory:
    level, _, code = key.partition("-")
    return db_session().scalar(select(Territory).where(Territory.level == level, Territory.code == code))


def shown_figure(policy_code: str, territory_key: str) -> str:
    """The overall progress as the report prints it (same filter as the pages)."""
    policy = db_session().scalar(select(Policy).where(Policy.code == policy_code))
    figure = db_session().scalar(select(PolicyFigure).where(
        PolicyFigure.policy_id == policy.id, PolicyFigure.territory_id == territory(territory_key).id))
    return " ".join(percent(figure.overall, 1).split())


@pytest.fixture
def ctx(demo_app):
    with demo_app.test_request_context():
        yield demo_app


def test_report_has_cover_contents_figures_and_page_numbers(ctx):
    pdf = make_pdf(Selection(("CH-101", "CH-201"), ("department-69",)))
    text = pages_text(pdf.data)
    assert len(text) == pdf.pages >= 5
    names = {code: db_session().scalar(select(Policy.name).where(Policy.code == code))
             for code in ("CH-101", "CH-201")}
    assert "Rapport détaillé" in text[0] and names["CH-101"] in text[0] and "Rhône" in text[0]
    # table of contents on page 2: each chapter with the page it starts on (target-counter)
    assert text[1].startswith("Sommaire")
    for code, name in names.items():
        entry = re.search(re.escape(f"{name} — Rhône") + r" \.+ (\d+)", text[1])
        assert entry, (name, text[1])
        start = int(entry.group(1))
        assert text[start - 1].startswith(f"{name} — Rhône"), (start, text[start - 1][:80])
        # the chapter shows the figure as the pages show it
        assert shown_figure(code, "department-69") in text[start - 1]
    assert "Comment les chiffres sont-ils calculés ?" in text[1]
    # footer: page numbers, instance branding
    for number, page in enumerate(text[1:], start=2):
        assert f"Page {number} / {pdf.pages}" in page
        assert "Délégation interministérielle à la transformation publique" in page
    body = " ".join(text)
    for section in ("Avancement", "Indicateurs et trajectoires", "Météo et synthèse des résultats",
                    "Commentaires", "Alertes", "National", "Médiane des territoires"):
        assert section in body


def test_national_chapter_has_a_map_or_its_table_of_departments(ctx):
    text = " ".join(pages_text(make_pdf(Selection(("CH-101",), ())).data))
    assert "Répartition territoriale" in text
    assert "Bouches-du-Rhône" in text and "Finistère" in text  # every department is listed


def test_the_operator_may_not_name_unknown_things(ctx):
    with pytest.raises(SelectionError):
        make_pdf(Selection(("NOPE-1",), ()))
    with pytest.raises(SelectionError):
        make_pdf(Selection((), ("department-999",)))


@pytest.mark.parametrize("selection", [
    Selection(("CH-101",), ("department-69",), brief=True),
    Selection(("CH-101",), (), brief=True),
    Selection((), ("nation-FR",), brief=True),  # every policy: rows are cut to fit
    Selection((), ("region-84",), brief=True),
], ids=["policy-dept", "policy-nation", "territory-nation", "territory-region"])
def test_a_brief_is_exactly_one_page(ctx, selection):
    pdf = make_pdf(selection)
    text = pages_text(pdf.data)
    assert pdf.pages == 1 and len(text) == 1
    assert "Fiche conducteur" in text[0] and "Page 1 / 1" in text[0]
    if selection.policies:
        name = db_session().scalar(select(Policy.name).where(Policy.code == "CH-101"))
        assert name in text[0]
        assert shown_figure("CH-101", selection.territories[0] if selection.territories else "nation-FR") in text[0]


def test_a_brief_is_about_one_policy_or_one_territory(ctx):
    with pytest.raises(SelectionError):
        make_pdf(Selection(("CH-101", "CH-201"), (), brief=True))


def test_a_local_contributor_report_holds_no_other_territory_nor_policy(ctx):
    contributor = user(f"local_contributor@{DOMAIN}")
    pdf = make_pdf(Selection((), ("department-69", "department-13", "nation-FR")), contributor)
    body = " ".join(pages_text(pdf.data))
    assert "Rhône" in body
    assert "Bouches-du-Rhône" not in body  # not in the grant: left out, said so
    assert "Une partie de la sélection a été écartée" in body
    # the national chapter shows no departments map/table: the others are not readable
    assert "Répartition territoriale" not in body and "Finistère" not in body
    granted = {p.code for g in contributor.grants for p in g.policies}
    readable = db_session().scalars(select(Policy.name).where(Policy.code.in_(granted))).all()
    others = db_session().scalars(select(Policy.name).where(Policy.code.not_in(granted))).all()
    assert any(name in body for name in readable)
    assert not [name for name in others if name in body]
    # the operator sees Bouches-du-Rhône in the same selection
    everything = " ".join(pages_text(make_pdf(Selection((), ("department-13",))).data))
    assert "Bouches-du-Rhône" in everything


class NotesPlugin:
    """A plugin adding a section to each chapter and one at the end of the report."""

    name = "notes"

    @hookimpl
    def report_sections(self, report):
        sections = [ReportSection(key=f"notes.{c.key}", title="Notes du comité", order=15,
                                  html=f"<p>Revue de {c.policy.code} à {c.territory.name}.</p>",
                                  policy=c.policy.code, territory=c.territory.key)
                    for c in report.chapters]
        return sections + [ReportSection(key="notes.annex", title="Annexe du comité", html="<p>Fin.</p>")]


def test_plugins_add_sections_through_the_hook(ctx):
    pm = ctx.extensions["pilote"].pm
    pm.register(NotesPlugin(), name="notes")
    try:
        text = pages_text(make_pdf(Selection(("CH-101",), ("department-69",))).data)
    finally:
        pm.unregister(name="notes")
    body = " ".join(text)
    assert "Notes du comité" in body and "Revue de CH-101 à Rhône." in body
    # ordered inside the chapter: after the figures (10), before the charts (20)
    assert body.index("Taux d'avancement comparés") < body.index("Notes du comité") < \
        body.index("Indicateurs et trajectoires")
    assert "Annexe du comité" in text[1]  # in the table of contents


def test_a_plugin_section_key_must_carry_its_name(ctx):
    from core.plugins import PluginError

    class Rogue:
        name = "rogue"

        @hookimpl
        def report_sections(self, report):
            return [ReportSection(key="core.figures.x", title="x", html="")]

    pm = ctx.extensions["pilote"].pm
    pm.register(Rogue(), name="rogue")
    try:
        with pytest.raises(PluginError):
            make_pdf(Selection(("CH-101",), ("department-69",)))
    finally:
        pm.unregister(name="rogue")


def test_marianne_only_with_the_state_theme(ctx, make_app):
    from core.reports.render import branding

    assert branding()["state"] and branding()["fonts"]  # ditp uses dsfr
    neutral = make_app("anct")
    with neutral.test_request_context():
        brand = branding()
        assert not brand["state"] and not brand["fonts"] and "marianne" not in brand["font"].lower()


def test_cli_report_and_brief(demo_app, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from core.cli import cli

    monkeypatch.setenv("PILOTE_DATABASE_URL", demo_app.extensions["pilote"].config.database_url)
    monkeypatch.setenv("PILOTE_VAR_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    out = tmp_path / "rapport.pdf"
    result = runner.invoke(cli, ["--instance", "ditp", "report", "--out", str(out), "--policy", "CH-101",
                                 "--territory", "department-69", "--territory", "department-13",
                                 "--as", f"local_contributor@{DOMAIN}"])
    assert result.exit_code == 0, result.output
    assert "page(s)" in result.output
    body = " ".join(pages_text(out.read_bytes()))
    assert "Rhône" in body and "Bouches-du-Rhône" not in body
    brief = tmp_path / "fiche.pdf"
    result = runner.invoke(cli, ["--instance", "ditp", "report", "--out", str(brief), "--brief",
                                 "--territory", "region-84"])
    assert result.exit_code == 0, result.output
    assert len(PdfReader(brief).pages) == 1
    result = runner.invoke(cli, ["--instance", "ditp", "report", "--out", str(brief), "--policy", "NOPE-0"])
    assert result.exit_code != 0 and "unknown policy" in result.output
    result = runner.invoke(cli, ["--instance", "ditp", "report", "--out", str(brief), "--as", "nobody@x.org"])
    assert result.exit_code != 0 and "no user" in result.output
