"""A payment batch's payers locked and their use read in one round trip: a function, because
only a statement that starts after the locks are granted reads what their last holder committed.

Revision ID: i0005
Revises: i0004
Create Date: 2026-12-06
"""

from alembic import op

revision = "i0005"
down_revision = "i0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # VOLATILE: in READ COMMITTED each statement of the body takes a fresh snapshot, so the
    # RETURN QUERY, begun once every lock is held, sees the totals the locks' last holder
    # committed. One statement reading in the same statement that locks would read with a
    # snapshot taken before it waited for the locks: totals committed meanwhile unseen.
    op.execute(
        """
        CREATE FUNCTION lock_payers_and_read_use(
            p_user_ids text[], p_payment_ids text[],
            p_tiers text[], p_named boolean[], p_scopes text[], p_since date[]
        ) RETURNS TABLE (
            kind text, user_id text, state text, masked_name text, masked_id_number text,
            masked_phone text, real_name_verified boolean, tier text, created_at timestamptz,
            opened_on date, customer_id text, tier_cap text, card_id text, bank_code text,
            masked_card_number text, agreement_no text, is_default boolean, active boolean,
            bank_name text, card_type text, card_created_at timestamptz, locked boolean,
            name text, currency text, day date, amount bigint, tier_amount bigint
        )
        LANGUAGE plpgsql VOLATILE
        -- Planned once per session: the array parameters make every custom plan look
        -- cheaper than the generic one, so each call was planned again (0.3 ms a batch).
        SET plan_cache_mode = force_generic_plan
        AS $body$
        #variable_conflict use_column
        DECLARE
            held text[];
        BEGIN
            -- Persons (or lone accounts) locked in key order, so that two transactions locking
            -- overlapping sets never wait on each other in a circle.
            SELECT array_agg(keys.k) INTO held FROM (
                SELECT k, pg_advisory_xact_lock(hashtextextended('identity.limits:' || k, 0))
                FROM (
                    SELECT DISTINCT coalesce('person:' || u.customer_id, 'user:' || u.user_id) AS k
                    FROM users u WHERE u.user_id = ANY(p_user_ids)
                    ORDER BY k
                ) sorted
            ) keys;
            -- The payers with their active cards (each saying whether it is locked as it is
            -- now: one real-named while this waited is not), what was reserved for these
            -- payments before, and the use of each owner the payers' windows count, from the
            -- first day a window of the payer's tier can start (NULL: every day).
            RETURN QUERY
            WITH payers AS (
                SELECT * FROM users u WHERE u.user_id = ANY(p_user_ids)
            ), reads AS (
                SELECT * FROM unnest(p_tiers, p_named, p_scopes, p_since)
                    AS r(tier, named, scope, since)
            ), owners AS (
                SELECT CASE r.scope WHEN 'person' THEN 'person:' || u.customer_id
                                    ELSE 'user:' || u.user_id END AS owner,
                       min(coalesce(r.since, '-infinity'::date)) AS since
                FROM payers u
                JOIN reads r ON r.tier = u.tier AND r.named = (u.customer_id IS NOT NULL)
                GROUP BY 1
            )
            SELECT 'payer'::text, u.user_id::text, u.state::text, u.masked_name::text,
                   u.masked_id_number::text, u.masked_phone::text, u.real_name_verified,
                   u.tier::text, u.created_at, u.opened_on, u.customer_id::text,
                   u.tier_cap::text, c.card_id::text, c.bank_code::text,
                   c.masked_card_number::text, c.agreement_no::text, c.is_default, c.active,
                   c.bank_name::text, c.card_type::text, c.created_at,
                   coalesce('person:' || u.customer_id, 'user:' || u.user_id) = ANY(held),
                   NULL::text, NULL::text, NULL::date, NULL::bigint, NULL::bigint
            FROM payers u LEFT JOIN cards c ON c.user_id = u.user_id AND c.active
            UNION ALL
            SELECT 'reserved', l.user_id::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                   l.payment_id::text, l.currency::text, NULL, l.amount, NULL
            FROM limit_usages l WHERE l.payment_id = ANY(p_payment_ids)
            UNION ALL
            SELECT 'used', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                   t.owner::text, NULL, t.day, t.amount, t.tier_amount
            FROM owners o JOIN limit_totals t ON t.owner = o.owner AND t.day >= o.since
            ORDER BY 2, 21;
        END
        $body$
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION lock_payers_and_read_use(text[], text[], text[], boolean[], text[], date[])"
    )
