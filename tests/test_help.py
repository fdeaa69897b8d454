"""Help pages and FAQ: Markdown rendered then sanitised, every save a version (history, view,
restore), concurrent edits refused with both versions (409), drafts and deleted pages hidden
from readers, contextual help links (nothing for a missing page), and who may edit."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from core.testing.support import client_as, email, query, seeded_app


@pytest.fixture(scope="module")
def app(database_factory):
    application = seeded_app(database_factory)
    yield application
    application.extensions["pilote"].db.dispose()


def versions(app, slug):
    from core.models import HelpPage, HelpPageVersion

    return query(app, select(HelpPageVersion.number, HelpPageVersion.title, HelpPageVersion.body_markdown,
                             HelpPageVersion.author_id)
                 .join(HelpPage).where(HelpPage.slug == slug).order_by(HelpPageVersion.number))


def page_state(app, slug):
    from core.models import HelpPage

    return query(app, select(HelpPage.current_version, HelpPage.published, HelpPage.deleted_at)
                 .where(HelpPage.slug == slug))[0]


def create(client, slug, body="Texte", published=True, title=None, kind="page", category="Tests"):
    data = {"slug": slug, "title": title or f"Titre {slug}", "kind": kind, "category": category,
            "position": "1", "body": body}
    if published:
        data["published"] = "1"
    return client.post("/aide/nouvelle", data=data)


def edit(client, slug, version, body, title=None, published=True):
    data = {"version": str(version), "title": title or f"Titre {slug}", "kind": "page",
            "category": "Tests", "position": "1", "body": body, "action": "save"}
    if published:
        data["published"] = "1"
    return client.post(f"/aide/{slug}/modifier", data=data)


# --------------------------------------------------------------------------- rendering
def test_markdown_is_rendered_and_sanitised():
    from core.help.rendering import render_markdown

    html = str(render_markdown(
        "# Titre\n\nDu **gras** et un [lien](/aide/x).\n\n"
        "<script>alert('x')</script>\n\n"
        '<img src="/logo.png" alt="logo" onerror="alert(1)">\n\n'
        "[piège](javascript:alert(2))\n\n"
        '<a href="javascript:alert(3)" onclick="alert(4)">autre piège</a>\n\n'
        "| a | b |\n|---|---|\n| 1 | 2 |\n"))
    assert "<h2>Titre</h2>" in html  # the page title is the only h1
    assert "<strong>gras</strong>" in html and 'href="/aide/x"' in html
    assert "<table>" in html and "<td>1</td>" in html
    assert "<script" not in html and "alert('x')" not in html
    assert "onerror" not in html and "onclick" not in html and 'alt="logo"' in html
    assert "javascript:" not in html.replace("[piège](javascript:alert(2))", "")
    assert not re.search(r'href="javascript', html)


def test_a_saved_page_is_served_sanitised(app):
    client = client_as(app, "central_steering")
    body = "Bonjour\n\n<script>document.title='pwn'</script>\n\n<img src=x onerror=alert(1)>\n\n" \
           '<a href="javascript:alert(1)">clic</a>'
    assert create(client, "page-piegee", body).status_code == 302
    html = client_as(app).get("/aide/page-piegee").get_data(as_text=True)
    main = html.split("help-body", 1)[1].split("</article>", 1)[0]
    assert "Bonjour" in main and "clic" in main
    assert "<script" not in main and "onerror" not in main and "javascript:" not in main


# --------------------------------------------------------------------------- reading
def test_seeded_help_is_readable_by_everyone_and_searchable(app):
    anonymous = client_as(app)
    index = anonymous.get("/aide/")
    assert index.status_code == 200
    html = index.get_data(as_text=True)
    for title in ("Qu&#39;est-ce que le taux d&#39;avancement ?", "Comment importer des données ?",
                  "Qui contacter ?", "Questions fréquentes"):
        assert title in html
    assert html.count('<details class="faq"') >= 6
    page = anonymous.get("/aide/calcul-avancement")
    assert page.status_code == 200 and "pondérée par leur poids" in page.get_data(as_text=True)
    found = anonymous.get("/aide/?q=zqxwv").get_data(as_text=True)  # nothing matches
    assert re.search(r"Aucune page d(&#39;|')aide ne correspond\.", found)
    found = anonymous.get("/aide/?q=XLSX").get_data(as_text=True)
    assert "Comment importer des données ?" in found and "Qui contacter ?" not in found
    assert anonymous.get("/aide/nexiste-pas").status_code == 404


def test_drafts_are_hidden_from_readers(app):
    editor = client_as(app, "central_steering")
    assert create(editor, "brouillon-secret", "En préparation", published=False,
                  title="Brouillon secret").status_code == 302
    for who in (None, "reader", "local_contributor"):
        client = client_as(app, who)
        assert client.get("/aide/brouillon-secret").status_code == 404
        assert "Brouillon secret" not in client.get("/aide/").get_data(as_text=True)
    assert editor.get("/aide/brouillon-secret").status_code == 200
    assert "Brouillon secret" in editor.get("/aide/").get_data(as_text=True)


# --------------------------------------------------------------------------- versions
def test_each_save_is_a_version_with_history_view_and_restore(app):
    client = client_as(app, "central_steering")
    from core.models import User

    (author,), = query(app, select(User.id).where(User.email == email("central_steering")))
    assert create(client, "versions", "Première version").status_code == 302
    assert edit(client, "versions", 1, "Deuxième version").status_code == 302
    assert edit(client, "versions", 2, "Troisième version", title="Nouveau titre").status_code == 302
    rows = versions(app, "versions")
    assert [(n, b) for n, _, b, _ in rows] == [(1, "Première version"), (2, "Deuxième version"),
                                                (3, "Troisième version")]
    assert {a for *_, a in rows} == {author} and page_state(app, "versions")[0] == 3
    history = client.get("/aide/versions/historique").get_data(as_text=True)
    assert history.count("<tr><th scope=\"row\">") == 3 and "Julien Lefèvre" in history
    old = client.get("/aide/versions/version?numero=1")
    assert old.status_code == 200 and "Première version" in old.get_data(as_text=True)
    assert client.get("/aide/versions/version?numero=9").status_code == 404
    restored = client.post("/aide/versions/restaurer", data={"numero": "1", "version": "3"})
    assert restored.status_code == 302
    rows = versions(app, "versions")
    assert len(rows) == 4 and rows[-1][2] == "Première version" and rows[-1][1] == "Titre versions"
    assert page_state(app, "versions")[0] == 4
    assert "Première version" in client_as(app).get("/aide/versions").get_data(as_text=True)


def test_a_concurrent_edit_is_refused_with_both_versions(app):
    first, second = client_as(app, "central_steering"), client_as(app, "admin")
    assert create(first, "conflit", "Texte initial").status_code == 302
    assert edit(first, "conflit", 1, "Texte de Julien").status_code == 302
    stale = edit(second, "conflit", 1, "Texte de Claire")  # opened at version 1
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "Texte de Julien" in html and "Texte de Claire" in html and "Conflit de modification" in html
    assert [b for _, _, b, _ in versions(app, "conflit")] == ["Texte initial", "Texte de Julien"]
    # the conflict page resubmits against the stored version: now it saves
    assert edit(second, "conflit", 2, "Texte de Claire").status_code == 302
    assert versions(app, "conflit")[-1][2] == "Texte de Claire"
    # a restore from a stale history page is refused too
    assert first.post("/aide/conflit/restaurer", data={"numero": "1", "version": "2"}).status_code == 409
    assert len(versions(app, "conflit")) == 3


def test_soft_delete_hides_the_page_and_restore_brings_it_back(app):
    client = client_as(app, "central_steering")
    assert create(client, "a-supprimer", "Bientôt supprimée").status_code == 302
    assert client.post("/aide/a-supprimer/supprimer").status_code == 302
    assert page_state(app, "a-supprimer")[2] is not None and len(versions(app, "a-supprimer")) == 1
    assert client_as(app, "reader").get("/aide/a-supprimer").status_code == 404
    assert "Titre a-supprimer" not in client_as(app).get("/aide/").get_data(as_text=True)
    assert client.post("/aide/a-supprimer/restaurer", data={"numero": "1", "version": "1"}).status_code == 302
    assert page_state(app, "a-supprimer")[2] is None
    assert client_as(app).get("/aide/a-supprimer").status_code == 200


def test_invalid_or_taken_addresses_are_refused(app):
    client = client_as(app, "central_steering")
    assert create(client, "Pas Valide!", "x").status_code == 422
    assert create(client, "qui-contacter", "doublon").status_code == 422
    assert create(client, "nouvelle", "réservé").status_code == 422


# --------------------------------------------------------------------------- permissions
def test_readers_and_contributors_cannot_edit(app):
    from core.models import HelpPage, HelpPageVersion

    before = query(app, select(select(func.count(HelpPage.id)).scalar_subquery(),
                               select(func.count(HelpPageVersion.id)).scalar_subquery()))
    (current,), = query(app, select(HelpPage.current_version).where(HelpPage.slug == "qui-contacter"))
    for role in ("reader", "local_contributor", "ministry_referent", "prefect"):
        client = client_as(app, role)
        assert client.get("/aide/nouvelle").status_code == 403
        assert client.get("/aide/qui-contacter/modifier").status_code == 403
        assert client.get("/aide/qui-contacter/historique").status_code == 403
        assert create(client, f"par-{role.replace('_', '-')}", "x").status_code == 403
        assert edit(client, "qui-contacter", current, "vandalisme").status_code == 403
        assert client.post("/aide/qui-contacter/supprimer").status_code == 403
        assert client.post("/aide/qui-contacter/restaurer", data={"numero": "1", "version": current}).status_code == 403
    anonymous = client_as(app)
    refused = anonymous.get("/aide/nouvelle")
    assert refused.status_code == 401 or "/connexion" in refused.headers.get("Location", "")
    refused = edit(anonymous, "qui-contacter", current, "vandalisme")
    assert refused.status_code == 401 or "/connexion" in refused.headers.get("Location", "")
    after = query(app, select(select(func.count(HelpPage.id)).scalar_subquery(),
                              select(func.count(HelpPageVersion.id)).scalar_subquery()))
    assert after == before
    assert page_state(app, "qui-contacter")[2] is None
    assert "Nouvelle page d’aide" not in client_as(app, "reader").get("/aide/").get_data(as_text=True)
    assert "Nouvelle page d’aide" in client_as(app, "admin").get("/aide/").get_data(as_text=True)


# --------------------------------------------------------------------------- contextual links
def test_help_link_renders_for_a_page_and_nothing_for_a_missing_one(app):
    from core.help.hooks import help_link

    with app.test_request_context("/"):
        link = str(help_link("taux-avancement"))
        assert 'href="/aide/taux-avancement"' in link
        assert "Aide : Qu&#39;est-ce que le taux d&#39;avancement ?" in link
        assert 'aria-hidden="true">?</span>' in link
        assert str(help_link("page-qui-n-existe-pas")) == ""
        assert str(help_link("brouillon-secret")) == ""  # a draft is not linked either
        custom = str(help_link("calcul-avancement", "Aide : comment est calculé le taux d'avancement"))
        assert "comment est calculé le taux d&#39;avancement" in custom


@pytest.mark.parametrize("role, url, slug", [
    (None, "/", "taux-avancement"),
    ("local_contributor", "/politiques/CH-201?territoire=department-69", "calcul-avancement"),
    ("local_contributor", "/imports/", "importer-des-donnees"),
    ("central_steering", "/completude", "completude"),
])
def test_key_pages_link_to_their_help(app, role, url, slug):
    response = client_as(app, role).get(url, follow_redirects=True)
    assert response.status_code == 200
    assert f'href="/aide/{slug}"' in response.get_data(as_text=True)


def test_the_entry_form_links_to_its_help_and_a_missing_page_leaves_no_link(app):
    from core.db import session
    from core.models import HelpPage, Indicator, Policy

    client = client_as(app, "local_contributor")
    with app.app_context():
        code = session().scalar(select(Indicator.code).join(Policy).where(Policy.code == "CH-201")
                                .order_by(Indicator.code))
    page = client.get(f"/saisie/indicateurs/{code}?territoire=department-69")
    assert page.status_code == 200
    assert 'href="/aide/saisir-une-valeur"' in page.get_data(as_text=True)
    with app.app_context():
        row = session().scalar(select(HelpPage).where(HelpPage.slug == "importer-des-donnees"))
        row.published = False
        session().commit()
    try:
        html = client.get("/imports/").get_data(as_text=True)
        assert "/aide/importer-des-donnees" not in html and "Aide :" not in html
    finally:
        with app.app_context():
            row = session().scalar(select(HelpPage).where(HelpPage.slug == "importer-des-donnees"))
            row.published = True
            session().commit()


def test_seeding_again_keeps_what_editors_wrote(app):
    from core.db import session
    from core.help.seed import seed_help
    from core.models import HelpPage

    client = client_as(app, "central_steering")
    (current,), = query(app, select(HelpPage.current_version).where(HelpPage.slug == "faq-meteo"))
    assert edit(client, "faq-meteo", current, "Réponse réécrite", title="Météo ?").status_code == 302
    with app.app_context():
        assert seed_help(session()) == 0
        session().commit()
    assert versions(app, "faq-meteo")[-1][2] == "Réponse réécrite"


# --------------------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def server(app):
    import threading

    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.mark.browser
def test_help_pages_in_a_browser_without_wcag_aa_violations(browser, server):
    from core.testing.pytest_plugin import axe_violations

    context = browser.new_context(locale="fr-FR", bypass_csp=True)  # bypass: axe is injected
    tab = context.new_page()
    try:
        tab.goto(f"{server}/connexion")
        tab.get_by_label("Adresse électronique").fill(email("central_steering"))
        tab.get_by_label("Mot de passe").fill("pilote-demo")
        tab.get_by_role("button", name="Se connecter").click()
        tab.wait_for_url(f"{server}/")
        tab.get_by_role("link", name=re.compile("Aide : Qu.est-ce que le taux")).click()
        assert "taux d'avancement" in tab.locator("h1").inner_text()
        assert axe_violations(tab) == []
        tab.goto(f"{server}/aide/")
        tab.locator("summary", has_text="Mon import est refusé").click()
        assert tab.locator("details.faq[open] .help-body").first.is_visible()
        assert axe_violations(tab) == []
        tab.goto(f"{server}/aide/qui-contacter/modifier")
        assert axe_violations(tab) == []
        tab.goto(f"{server}/questions/nouvelle?politique=CH-201")
        assert axe_violations(tab) == []
    finally:
        context.close()
