"""The event sequencer's run in one round trip: a function takes the sequencer's lock, numbers
what is pending and tells listeners, in the implicit transaction of one statement, where it
took four (BEGIN with the lock, the numbering, NOTIFY, COMMIT).

Revision ID: g0022
Revises: g0021
Create Date: 2026-12-06
"""

from alembic import op

revision = "g0022"
down_revision = "g0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # VOLATILE: in READ COMMITTED each statement of the body takes a fresh snapshot, so the
    # numbering, begun once the lock is held, sees every number the previous run committed
    # (the lock is released by that run's commit). One statement that locked and numbered
    # would number with a snapshot taken before it waited: the previous run's numbers unseen.
    op.execute(
        """
        CREATE FUNCTION number_payment_events(p_limit integer) RETURNS integer
        LANGUAGE plpgsql VOLATILE
        AS $body$
        DECLARE
            numbered integer;
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtext('gateway.payment-event-sequencer'));
            WITH top AS (SELECT coalesce(max(sequence), 0) AS s FROM payment_events),
            todo AS (
                SELECT event_id, row_number() OVER (ORDER BY event_id) AS n
                FROM (SELECT event_id FROM payment_events WHERE sequence IS NULL
                      ORDER BY event_id LIMIT p_limit) pending
            )
            UPDATE payment_events e SET sequence = top.s + todo.n
            FROM todo, top WHERE e.event_id = todo.event_id;
            GET DIAGNOSTICS numbered = ROW_COUNT;
            IF numbered > 0 THEN
                PERFORM pg_notify('gateway_payment_events', '');
            END IF;
            RETURN numbered;
        END
        $body$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION number_payment_events(integer)")
