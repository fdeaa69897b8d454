"""Dialogue: comments and replies, mentions (escaped, restricted), notifications in-app and by
e-mail (queued once), the referents' view across territories, comment edit conflicts."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from core.testing.support import client_as, email, query, seeded_app

PAGE = "/politiques/CH-201?territoire=department-69"


@pytest.fixture(scope="module")
def app(database_factory):
    application = seeded_app(database_factory)
    yield application
    application.extensions["pilote"].db.dispose()


def target(app, policy="CH-201", level="department", code="69"):
    from core.db import session
    from core.models import Policy, Territory

    with app.app_context():
        return (session().scalar(select(Policy.id).where(Policy.code == policy)),
                session().scalar(select(Territory.id).where(Territory.level == level, Territory.code == code)))


def user_id(app, role):
    from core.db import session
    from core.models import User

    with app.app_context():
        return session().scalar(select(User.id).where(User.email == email(role)))


def test_comment_with_a_mention_is_escaped_linked_and_notifies_once(app):
    from core.models import Comment, CommentMention, MailMessage, Notification

    pid, tid = target(app)
    coordinator, referent = user_id(app, "territorial_coordinator"), user_id(app, "ministry_referent")
    client = client_as(app, "local_contributor")
    body = f"Blocage <script>alert(1)</script> signalé à @{email('territorial_coordinator')}"
    response = client.post("/dialogue/commentaires", data={
        "policy_id": pid, "territory_id": tid, "type": "obstacles", "body": body,
        "mentions": email("territorial_coordinator"), "next": PAGE})
    assert response.status_code == 302
    (comment_id,), = query(app, select(func.max(Comment.id)))
    assert query(app, select(CommentMention.user_id).where(CommentMention.comment_id == comment_id)) == [(coordinator,)]
    notes = dict(query(app, select(Notification.user_id, Notification.kind)
                       .where(Notification.comment_id == comment_id)))
    assert notes == {coordinator: "mention", referent: "comment"}
    mails = query(app, select(MailMessage.recipients).where(MailMessage.dedupe_key.like(f"comment-{comment_id}:%")))
    assert sorted(m[0][0] for m in mails) == sorted([email("territorial_coordinator"), email("ministry_referent")])
    html = client.get(PAGE).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<span class="mention">@Nadia Benali</span>' in html


def test_a_reply_notifies_the_thread_and_each_person_gets_one_mail(app):
    from core.models import Comment, MailMessage, Notification

    pid, tid = target(app)
    author = client_as(app, "local_contributor")
    assert author.post("/dialogue/commentaires", data={
        "policy_id": pid, "territory_id": tid, "type": "next_actions", "body": "Point d'étape"}).status_code == 302
    (root,), = query(app, select(func.max(Comment.id)))
    contributor = user_id(app, "local_contributor")
    # the prefect replies and also mentions the author: one notification, one mail for them
    reply = client_as(app, "prefect").post("/dialogue/commentaires", data={
        "parent_id": root, "body": "Vu, merci", "mentions": email("local_contributor")})
    assert reply.status_code == 302
    (reply_id,), = query(app, select(func.max(Comment.id)))
    assert query(app, select(Comment.parent_id, Comment.type).where(Comment.id == reply_id)) == [(root, "next_actions")]
    to_author = query(app, select(Notification.kind).where(Notification.comment_id == reply_id,
                                                           Notification.user_id == contributor))
    assert to_author == [("mention",)]
    mails = query(app, select(func.count(MailMessage.id)).where(
        MailMessage.dedupe_key == f"comment-{reply_id}:{contributor}"))
    assert mails == [(1,)]
    html = author.get(PAGE).get_data(as_text=True)
    assert "Vu, merci" in html and f'id="commentaire-{reply_id}"' in html


def test_mentions_are_limited_to_users_the_author_may_see(app):
    from core.models import Comment

    pid, tid = target(app, policy="CH-101")  # a MIN-TRAVAIL policy: the ecology referent cannot read it
    before = query(app, select(func.count(Comment.id)))
    response = client_as(app, "local_contributor").post("/dialogue/commentaires", data={
        "policy_id": pid, "territory_id": tid, "type": "obstacles",
        "body": f"Pour info @{email('ministry_referent')}"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "hors de votre périmètre" in html and email("ministry_referent") in html
    assert "Pour info" in html  # nothing typed is lost
    assert query(app, select(func.count(Comment.id))) == before
    users = client_as(app, "local_contributor").get("/dialogue/utilisateurs/CH-101?territoire=department-69").json
    emails = {u["email"] for u in users["users"]}
    assert email("territorial_coordinator") in emails and email("ministry_referent") not in emails


def test_comment_posts_check_role_and_scope(app):
    from core.models import Comment

    pid, tid = target(app)
    _, paris = target(app, code="75")
    before = query(app, select(func.count(Comment.id)))
    data = {"policy_id": pid, "territory_id": paris, "type": "obstacles", "body": "x"}
    assert client_as(app, "local_contributor").post("/dialogue/commentaires", data=data).status_code == 403
    assert client_as(app, "reader").post("/dialogue/commentaires", data={**data, "territory_id": tid}).status_code == 403
    assert client_as(app, "ministry_referent").post("/dialogue/commentaires", data={
        **data, "territory_id": tid}).status_code == 403  # referents read, they do not write locally
    assert query(app, select(func.count(Comment.id))) == before


def test_notifications_list_unread_count_and_open(app):
    client = client_as(app, "territorial_coordinator")
    page = client.get("/notifications/").get_data(as_text=True)
    unread = re.search(r"(\d+) notifications? non lues?", page)
    assert unread and int(unread.group(1)) >= 1
    note_id = re.search(r'/notifications/(\d+)/ouvrir', page).group(1)
    opened = client.post(f"/notifications/{note_id}/ouvrir")
    assert opened.status_code == 302 and "/politiques/CH-201" in opened.location
    after = client.get("/notifications/").get_data(as_text=True)
    assert int(re.search(r"(\d+) notifications? non lues?", after).group(1)) == int(unread.group(1)) - 1
    assert client_as(app, "reader").post(f"/notifications/{note_id}/ouvrir").status_code == 404


def test_referents_see_every_local_comment_of_a_policy(app):
    client = client_as(app, "ministry_referent")
    page = client.get("/dialogue/politiques/CH-201?periode=tout")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Point d&#39;étape" in html and "Rhône" in html
    filtered = client.get("/dialogue/politiques/CH-201?periode=tout&niveau=region").get_data(as_text=True)
    assert "Point d&#39;étape" not in filtered
    by_type = client.get("/dialogue/politiques/CH-201?periode=tout&type=decision").get_data(as_text=True)
    assert "Point d&#39;étape" not in by_type
    assert client_as(app, "local_contributor").get("/dialogue/politiques/CH-201").status_code == 403
    assert client.get("/dialogue/politiques/CH-101").status_code == 403  # not this referent's policy


def test_editing_a_comment_with_a_stale_version_shows_both(app):
    from core.models import Comment

    pid, tid = target(app)
    client = client_as(app, "local_contributor")
    client.post("/dialogue/commentaires", data={"policy_id": pid, "territory_id": tid,
                                                "type": "obstacles", "body": "Version 1"})
    (cid,), = query(app, select(func.max(Comment.id)))
    assert client.post(f"/dialogue/commentaires/{cid}/modifier", data={"body": "Version 2", "version": 1}).status_code == 302
    stale = client.post(f"/dialogue/commentaires/{cid}/modifier", data={"body": "Version 3", "version": 1})
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "Version 2" in html and "Version 3" in html
    assert query(app, select(Comment.body).where(Comment.id == cid)) == [("Version 2",)]
    assert client_as(app, "prefect").post(f"/dialogue/commentaires/{cid}/modifier",
                                          data={"body": "x", "version": 2}).status_code == 403
