"""What people read on the pages: names with titles, one score scale, language names, plurals, German text."""

from __future__ import annotations

import pytest

from marketplace.names import first_name, split_title
from marketplace.services import accounts, emails
from tests.builders import make_goal, make_user
from tests.marketplace.test_api import bearer
from tests.marketplace.test_auth import registration

# --- names: a leading title is not a first name ---------------------------------------------------


@pytest.mark.parametrize(("name", "title", "first"), [
    ("Dr. Karl Hansekauf", "Dr.", "Karl"),
    ("Prof. Dr. Karl Hansekauf", "Prof. Dr.", "Karl"),
    ("Dipl.-Ing. Anna Meier", "Dipl.-Ing.", "Anna"),
    ("Dr.-Ing. Jens Ott", "Dr.-Ing.", "Jens"),
    ("Mag. Eva Gruber", "Mag.", "Eva"),
    ("Ing. Petr Novák", "Ing.", "Petr"),
    ("Frau Dr. med. Ute Kern", "Frau Dr. med.", "Ute"),
    ("Mrs Jane Doe", "Mrs", "Jane"),
    ("Herr Karl", "Herr", "Karl"),
    ("Drake Bell", "", "Drake"),  # a name that merely starts like a title
    ("Magnus Carlsen", "", "Magnus"),
    ("Dr.", "", "Dr."),  # nothing but a title: greet with what there is
])
def test_a_leading_title_is_kept_apart_from_the_first_name(name, title, first):
    assert split_title(name)[0] == title
    assert first_name(name) == first


def test_greetings_use_the_first_name_and_lists_the_full_name(client, app):
    response = client.post("/auth/register", data=registration(name="Dr. Karl Hansekauf", language="en"),
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Welcome to Tandem, Karl! Your account is ready." in page
    assert "Hello, Karl" in page and "Dr.!" not in page

    user = accounts.find_user_by_email("ada@example.com")
    assert user.name == "Dr. Karl Hansekauf"
    client.post("/language", data={"language": "de", "next": "/dashboard"})
    assert "Hallo Karl" in client.get("/dashboard").get_data(as_text=True)
    assert "Dr. Karl Hansekauf" in client.get("/auth/account").get_data(as_text=True)

    mail = emails.send_password_reset(user)
    assert "Karl" in mail.body and "Dr.," not in mail.body


def test_the_api_keeps_the_name_as_entered(client, app):
    owner = make_user(name="Prof. Dr. Karl Hansekauf")
    goal = make_goal(owner=owner)
    body = client.get(f"/api/v1/goals/{goal.id}", headers=bearer(owner)).get_json()
    assert body["owner"]["name"] == "Prof. Dr. Karl Hansekauf"
