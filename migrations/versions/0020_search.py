"""Full-text search over a post's title, body, tags and comments.

The database keeps the index itself, with triggers on posts, their tags and their comments: a
post changed by any path (the composer, the API, a plan import, a playbook, a reply, a script)
is found by its new words and no longer by its old ones, without any code having to remember
to update an index.

SQLite: an FTS5 table `post_search` (its rowid is the post's id). PostgreSQL: a `tsvector` per
post in `post_search`, with a GIN index. Both use plain words with no stemming and no stop
words (PostgreSQL's `simple` configuration, SQLite's `unicode61` tokenizer), so German and
English are found alike (calendar_app/search.py builds the queries).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# The children of a post whose text is part of the post's entry.
CHILDREN = ("post_tags", "post_comments")

SQLITE_REFRESH = """
    DELETE FROM post_search WHERE rowid = {post};
    INSERT INTO post_search (rowid, title, body, tags, comments)
    SELECT p.id, p.title, p.body,
           coalesce((SELECT group_concat(t.tag, ' ') FROM post_tags t WHERE t.post_id = p.id), ''),
           coalesce((SELECT group_concat(c.body, ' ') FROM post_comments c
                     WHERE c.post_id = p.id), '')
    FROM posts p WHERE p.id = {post};
"""

# Weights: the title counts most, then the tags, the body, the comments.
POSTGRES_REFRESH = """
CREATE FUNCTION post_search_refresh(target integer) RETURNS void AS $$
    INSERT INTO post_search (post_id, document)
    SELECT p.id,
           setweight(to_tsvector('simple', {fold_title}), 'A')
           || setweight(to_tsvector('simple', {fold_tags}), 'B')
           || setweight(to_tsvector('simple', {fold_body}), 'C')
           || setweight(to_tsvector('simple', {fold_comments}), 'D')
    FROM posts p WHERE p.id = target
    ON CONFLICT (post_id) DO UPDATE SET document = EXCLUDED.document;
$$ LANGUAGE sql;
"""
POSTGRES_TEXTS = {
    "title": "coalesce(p.title, '')",
    "tags": "coalesce((SELECT string_agg(t.tag, ' ') FROM post_tags t WHERE t.post_id = p.id), '')",
    "body": "coalesce(p.body, '')",
    "comments": (
        "coalesce((SELECT string_agg(c.body, ' ') FROM post_comments c WHERE c.post_id = p.id), '')"
    ),
}
# A database created with the C locale lower-cases only ASCII letters ("Übung" would stay
# "Übung"); an ICU collation, where the server has one, folds every letter.
ICU_ROOT = "und-x-icu"

POSTGRES_TRIGGERS = """
CREATE FUNCTION post_search_on_post() RETURNS trigger AS $$
BEGIN
    PERFORM post_search_refresh(NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION post_search_on_child() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM post_search_refresh(NEW.post_id);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM post_search_refresh(OLD.post_id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgres()
    else:
        _upgrade_sqlite()


def _upgrade_postgres() -> None:
    op.execute(
        "CREATE TABLE post_search ("
        "post_id integer PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE, "
        "document tsvector NOT NULL)"
    )
    op.execute("CREATE INDEX ix_post_search_document ON post_search USING gin (document)")
    bind = op.get_bind()
    icu = bind.exec_driver_sql(
        "SELECT 1 FROM pg_collation WHERE collname = %(name)s", {"name": ICU_ROOT}
    ).first()
    collate = f' COLLATE "{ICU_ROOT}"' if icu else ""
    op.execute(
        POSTGRES_REFRESH.format(
            **{f"fold_{k}": f"lower({v}{collate})" for k, v in POSTGRES_TEXTS.items()}
        )
    )
    op.execute(POSTGRES_TRIGGERS)
    op.execute(
        "CREATE TRIGGER post_search_post AFTER INSERT OR UPDATE OF title, body ON posts "
        "FOR EACH ROW EXECUTE FUNCTION post_search_on_post()"
    )
    for table in CHILDREN:
        op.execute(
            f"CREATE TRIGGER post_search_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION post_search_on_child()"
        )
    op.execute("SELECT post_search_refresh(id) FROM posts")


def _upgrade_sqlite() -> None:
    # Diacritics are kept, as PostgreSQL's `simple` keeps them: both engines find the same posts.
    op.execute(
        "CREATE VIRTUAL TABLE post_search USING fts5("
        "title, body, tags, comments, tokenize = 'unicode61 remove_diacritics 0')"
    )
    refresh_new = SQLITE_REFRESH.format(post="NEW.id")
    op.execute(
        f"CREATE TRIGGER post_search_post_insert AFTER INSERT ON posts BEGIN {refresh_new} END"
    )
    op.execute(
        "CREATE TRIGGER post_search_post_update AFTER UPDATE OF title, body ON posts "
        f"BEGIN {refresh_new} END"
    )
    op.execute(
        "CREATE TRIGGER post_search_post_delete AFTER DELETE ON posts "
        "BEGIN DELETE FROM post_search WHERE rowid = OLD.id; END"
    )
    for table in CHILDREN:
        new, old = (SQLITE_REFRESH.format(post=f"{row}.post_id") for row in ("NEW", "OLD"))
        op.execute(
            f"CREATE TRIGGER post_search_{table}_insert AFTER INSERT ON {table} BEGIN {new} END"
        )
        op.execute(
            f"CREATE TRIGGER post_search_{table}_delete AFTER DELETE ON {table} BEGIN {old} END"
        )
        op.execute(
            f"CREATE TRIGGER post_search_{table}_update AFTER UPDATE ON {table} "
            f"BEGIN {old} {new} END"
        )
    op.execute(
        "INSERT INTO post_search (rowid, title, body, tags, comments) "
        "SELECT p.id, p.title, p.body, "
        "coalesce((SELECT group_concat(t.tag, ' ') FROM post_tags t WHERE t.post_id = p.id), ''), "
        "coalesce((SELECT group_concat(c.body, ' ') FROM post_comments c "
        "WHERE c.post_id = p.id), '') FROM posts p"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER post_search_post ON posts")
        for table in CHILDREN:
            op.execute(f"DROP TRIGGER post_search_{table} ON {table}")
        op.execute("DROP FUNCTION post_search_on_child()")
        op.execute("DROP FUNCTION post_search_on_post()")
        op.execute("DROP FUNCTION post_search_refresh(integer)")
        op.execute("DROP TABLE post_search")
        return
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER post_search_post_{event}")
        for table in CHILDREN:
            op.execute(f"DROP TRIGGER post_search_{table}_{event}")
    op.execute("DROP TABLE post_search")
