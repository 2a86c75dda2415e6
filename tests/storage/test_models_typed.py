"""The models' `Mapped[...]` annotations are objects, not strings SQLAlchemy must eval at every
start (storage/models/__init__.py), and the relationships still reach the classes they name."""

from __future__ import annotations

import typing

from sqlalchemy.orm import configure_mappers

from storage.models import Base, Membership, Municipality, Person, Team, WebinarSession


def test_no_mapped_annotation_is_a_string() -> None:
    strings = [
        f"{mapper.class_.__name__}.{name}"
        for mapper in Base.registry.mappers
        for name, annotation in vars(mapper.class_).get("__annotations__", {}).items()
        if isinstance(annotation, str)
    ]
    assert strings == []


def test_each_relationship_reaches_the_class_it_names() -> None:
    configure_mappers()
    expected = {
        (Municipality, "teams"): (Team, True),
        (Team, "municipality"): (Municipality, False),
        (Team, "sessions"): (WebinarSession, True),
        (Team, "memberships"): (Membership, True),
        (WebinarSession, "team"): (Team, False),
        (Person, "memberships"): (Membership, True),
        (Membership, "person"): (Person, False),
        (Membership, "team"): (Team, False),
    }
    for (owner, name), (target, many) in expected.items():
        relationship = owner.__mapper__.relationships[name]
        assert (relationship.mapper.class_, relationship.uselist) == (target, many), name
        # The annotation says the same, once its quoted name is resolved.
        hint = typing.get_type_hints(owner)[name]
        inner = typing.get_args(hint)[0]
        assert (list[target] if many else target) == inner, name
