"""« Poser une question » : a question is a comment thread of type ``question``; the policy's
referents are notified in-app and by e-mail (captured), their reply notifies the asker, and a
policy or territory outside the asker's reach is refused without writing anything."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.testing.support import client_as, email, query, seeded_app


@pytest.fixture(scope="module")
def app(database_factory):
    application = seeded_app(database_factory)
    yield application
    application.extensions["pilote"].db.dispose()


def user_id(app, role):
    from core.models import User

    return query(app, select(User.id).where(User.email == email(role)))[0][0]


def last_comment(app):
    from core.models import Comment

    return query(app, select(func.max(Comment.id)))[0][0]


def ask(client, body="Pourquoi la cible 2026 a-t-elle changé ?", policy="CH-201", territory="department-69"):
    return client.post("/questions/nouvelle", data={"politique": policy, "territoire": territory, "body": body})


def test_a_question_creates_a_thread_and_notifies_the_referents(app):
    from core.models import Comment, MailMessage, Notification

    asker, referent = user_id(app, "local_contributor"), user_id(app, "ministry_referent")
    client = client_as(app, "local_contributor")
    form = client.get("/questions/nouvelle?politique=CH-201&territoire=department-69")
    assert form.status_code == 200 and 'value="CH-201" selected' in form.get_data(as_text=True)
    response = ask(client)
    assert response.status_code == 302
    question = last_comment(app)
    assert response.location.endswith(f"/questions/{question}")
    rows = query(app, select(Comment.type, Comment.parent_id, Comment.author_id, Comment.body)
                 .where(Comment.id == question))
    assert rows == [("question", None, asker, "Pourquoi la cible 2026 a-t-elle changé ?")]
    notes = query(app, select(Notification.user_id, Notification.kind, Notification.url)
                  .where(Notification.comment_id == question))
    assert notes == [(referent, "question", f"/questions/{question}")]
    mails = query(app, select(MailMessage.recipients, MailMessage.subject)
                  .where(MailMessage.dedupe_key == f"question-{question}:{referent}"))
    assert len(mails) == 1 and mails[0][0] == [email("ministry_referent")] and "pose une question" in mails[0][1]
    # the thread shows on the policy page's dialogue, typed
    page = client.get("/politiques/CH-201?territoire=department-69").get_data(as_text=True)
    assert f'id="commentaire-{question}"' in page and "Question aux référents" in page
    # and in the referent's list of questions
    listing = client_as(app, "ministry_referent").get("/questions/").get_data(as_text=True)
    assert f"/questions/{question}" in listing


def test_the_referents_reply_notifies_the_asker(app):
    from core.models import Comment, MailMessage, Notification

    asker = user_id(app, "local_contributor")
    assert ask(client_as(app, "local_contributor"), "Quelle source pour IND ?").status_code == 302
    question = last_comment(app)
    referent = client_as(app, "ministry_referent")
    page = referent.get(f"/questions/{question}")
    assert page.status_code == 200 and "Publier la réponse" in page.get_data(as_text=True)
    assert referent.post(f"/questions/{question}/repondre", data={"body": "La source est l'INSEE."}).status_code == 302
    reply = last_comment(app)
    assert query(app, select(Comment.parent_id, Comment.type).where(Comment.id == reply)) == [(question, "question")]
    assert query(app, select(Notification.kind).where(Notification.comment_id == reply,
                                                      Notification.user_id == asker)) == [("reply",)]
    assert query(app, select(func.count(MailMessage.id)).where(
        MailMessage.dedupe_key == f"comment-{reply}:{asker}")) == [(1,)]
    thread = client_as(app, "local_contributor").get(f"/questions/{question}").get_data(as_text=True)
    assert "La source est l&#39;INSEE." in thread or "La source est l'INSEE." in thread
    # a reply through the policy page's dialogue (a writer in scope) notifies the asker too
    assert client_as(app, "territorial_coordinator").post("/dialogue/commentaires", data={
        "parent_id": question, "body": "Je complète : données 2025."}).status_code == 302
    second = last_comment(app)
    assert query(app, select(Notification.kind).where(Notification.comment_id == second,
                                                      Notification.user_id == asker)) == [("reply",)]


def test_out_of_scope_questions_are_refused_and_write_nothing(app):
    from core.models import Comment, Notification

    before = query(app, select(func.count(Comment.id), select(func.count(Notification.id)).scalar_subquery()))
    # a policy of another ministry: the ecology referent may not read it
    assert ask(client_as(app, "ministry_referent"), policy="CH-101").status_code == 403
    assert client_as(app, "ministry_referent").get("/questions/nouvelle?politique=CH-101").status_code == 403
    # a territory outside the prefect's region
    assert ask(client_as(app, "prefect"), territory="department-75").status_code == 403
    # unknown policy, anonymous visitor
    assert ask(client_as(app, "reader"), policy="NOPE-0").status_code == 404
    anonymous = ask(client_as(app))
    assert anonymous.status_code == 401 or "/connexion" in anonymous.headers.get("Location", "")
    # an empty question is sent back with its error
    empty = ask(client_as(app, "reader"), body="  ")
    assert empty.status_code == 422 and "La question est vide." in empty.get_data(as_text=True)
    assert query(app, select(func.count(Comment.id), select(func.count(Notification.id)).scalar_subquery())) == before


def test_only_the_asker_referents_and_local_writers_may_answer(app):
    from core.models import Comment

    assert ask(client_as(app, "local_contributor"), "Question privée ?").status_code == 302
    question = last_comment(app)
    before = query(app, select(func.count(Comment.id)))
    reader = client_as(app, "reader")  # reads the policy, is neither asker, referent nor writer
    assert reader.get(f"/questions/{question}").status_code == 200
    assert "Publier la réponse" not in reader.get(f"/questions/{question}").get_data(as_text=True)
    assert reader.post(f"/questions/{question}/repondre", data={"body": "intrus"}).status_code == 403
    assert query(app, select(func.count(Comment.id))) == before
    # the asker may follow up in the thread
    assert client_as(app, "local_contributor").post(f"/questions/{question}/repondre",
                                                    data={"body": "Précision"}).status_code == 302
    # an ordinary comment is not a question thread
    (other,), = query(app, select(Comment.id).where(Comment.type != "question", Comment.parent_id.is_(None)).limit(1))
    assert client_as(app, "ministry_referent").get(f"/questions/{other}").status_code == 404


def test_the_policy_page_and_the_help_index_offer_to_ask(app):
    page = client_as(app, "reader").get("/politiques/CH-201?territoire=department-69").get_data(as_text=True)
    assert "/questions/nouvelle?politique=CH-201" in page
    assert "/questions/nouvelle" in client_as(app, "reader").get("/aide/").get_data(as_text=True)
    assert "/questions/nouvelle" not in client_as(app).get("/aide/").get_data(as_text=True)
