"""A payment batch's reservations in two round trips: its payers and their use read without
locks (read_payers_and_use), then reserved by one function that takes the payers' locks and
reserves only if the use read is still the use (reserve_if_use_unchanged); the locked read
(lock_payers_and_read_use) stays for a batch whose use changed in between, and reads the same.

Revision ID: i0006
Revises: i0005
Create Date: 2026-12-06
"""

from alembic import op

revision = "i0006"
down_revision = "i0005"
branch_labels = None
depends_on = None

_COLUMNS = """
    kind text, user_id text, state text, masked_name text, masked_id_number text,
    masked_phone text, real_name_verified boolean, tier text, created_at timestamptz,
    opened_on date, customer_id text, tier_cap text, card_id text, bank_code text,
    masked_card_number text, agreement_no text, is_default boolean, active boolean,
    bank_name text, card_type text, card_created_at timestamptz, {lock} ,
    name text, currency text, day date, amount bigint, tier_amount bigint
"""
_ARGUMENTS = """
    p_user_ids text[], p_payment_ids text[],
    p_tiers text[], p_named boolean[], p_scopes text[], p_since date[]
"""
_LOCK_KEY = "coalesce('person:' || u.customer_id, 'user:' || u.user_id)"


def upgrade() -> None:
    # The payers with their active cards and the key of the lock their reservations take,
    # what was reserved for these payments before, and the use of each owner the payers'
    # windows count from the first day a window of the payer's tier can start, with those
    # owners and days ('owner' rows; day NULL: every day).
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION read_payers_and_use({_ARGUMENTS})
        RETURNS TABLE ({_COLUMNS.format(lock="lock_key text")})
        -- plpgsql, whose plan is kept for the session: a SQL function's is made at every call
        -- (PostgreSQL before 18).
        LANGUAGE plpgsql STABLE
        SET plan_cache_mode = force_generic_plan
        AS $body$
        #variable_conflict use_column
        BEGIN
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
                   c.bank_name::text, c.card_type::text, c.created_at, {_LOCK_KEY},
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
            UNION ALL
            SELECT 'owner', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                   o.owner, NULL, nullif(o.since, '-infinity'::date), NULL, NULL
            FROM owners o
            ORDER BY 2, 21;
        END
        $body$
        """
    )
    # The locked read, as i0005 defined it, reading through the function above.
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION lock_payers_and_read_use({_ARGUMENTS})
        RETURNS TABLE ({_COLUMNS.format(lock="locked boolean")})
        LANGUAGE plpgsql VOLATILE
        SET plan_cache_mode = force_generic_plan
        AS $body$
        #variable_conflict use_column
        DECLARE
            held text[];
        BEGIN
            SELECT array_agg(keys.k) INTO held FROM (
                SELECT k, pg_advisory_xact_lock(hashtextextended('identity.limits:' || k, 0))
                FROM (
                    SELECT DISTINCT {_LOCK_KEY} AS k
                    FROM users u WHERE u.user_id = ANY(p_user_ids)
                    ORDER BY k
                ) sorted
            ) keys;
            -- A statement of its own, begun once every lock is held: it reads what their
            -- last holder committed.
            RETURN QUERY
            SELECT r.kind, r.user_id, r.state, r.masked_name, r.masked_id_number,
                   r.masked_phone, r.real_name_verified, r.tier, r.created_at, r.opened_on,
                   r.customer_id, r.tier_cap, r.card_id, r.bank_code, r.masked_card_number,
                   r.agreement_no, r.is_default, r.active, r.bank_name, r.card_type,
                   r.card_created_at, r.lock_key = ANY(held), r.name, r.currency, r.day,
                   r.amount, r.tier_amount
            FROM read_payers_and_use(p_user_ids, p_payment_ids, p_tiers, p_named, p_scopes,
                                     p_since) r
            WHERE r.kind <> 'owner'
            ORDER BY 2, 21;
        END
        $body$
        """
    )
    # Each payer's lock as read, taken in key order like the locked read's, then, in a
    # statement begun once they are held: every payer still under the key it was read with,
    # and each owner's use as read. Only then the reservations and their use are written;
    # false, writing nothing, if anything moved.
    op.execute(
        f"""
        CREATE FUNCTION reserve_if_use_unchanged(
            p_key_users text[], p_keys text[], p_owners text[], p_since date[],
            p_seen_owners text[], p_seen_days date[], p_seen_amounts bigint[],
            p_seen_tier_amounts bigint[],
            p_payment_ids text[], p_user_ids text[], p_customer_ids text[], p_amounts bigint[],
            p_currencies text[], p_balance_funded boolean[], p_counts_for_tier boolean[],
            p_days date[], p_now timestamptz,
            p_total_owners text[], p_total_days date[], p_total_amounts bigint[],
            p_total_tier_amounts bigint[]
        ) RETURNS boolean
        LANGUAGE plpgsql VOLATILE
        SET plan_cache_mode = force_generic_plan
        AS $body$
        BEGIN
            PERFORM count(pg_advisory_xact_lock(hashtextextended('identity.limits:' || k, 0)))
            FROM (SELECT DISTINCT k FROM unnest(p_keys) AS k ORDER BY k) sorted;
            IF EXISTS (
                SELECT 1 FROM unnest(p_key_users, p_keys) AS r(user_id, lock_key)
                JOIN users u ON u.user_id = r.user_id
                WHERE {_LOCK_KEY} <> r.lock_key
            ) OR EXISTS (
                SELECT 1
                FROM (
                    SELECT t.owner, t.day, t.amount, t.tier_amount
                    FROM unnest(p_owners, p_since) AS o(owner, since)
                    JOIN limit_totals t
                      ON t.owner = o.owner AND t.day >= coalesce(o.since, '-infinity'::date)
                ) now_
                FULL JOIN unnest(p_seen_owners, p_seen_days, p_seen_amounts,
                                 p_seen_tier_amounts) AS seen(owner, day, amount, tier_amount)
                  ON seen.owner = now_.owner AND seen.day = now_.day
                WHERE now_.owner IS NULL OR seen.owner IS NULL
                   OR now_.amount <> seen.amount OR now_.tier_amount <> seen.tier_amount
            ) THEN
                RETURN false;
            END IF;
            INSERT INTO limit_usages (
                payment_id, user_id, customer_id, amount, currency, balance_funded,
                counts_for_tier, day, state, created_at, updated_at
            )
            SELECT *, 'reserved', p_now, p_now
            FROM unnest(p_payment_ids, p_user_ids, p_customer_ids, p_amounts, p_currencies,
                        p_balance_funded, p_counts_for_tier, p_days);
            INSERT INTO limit_totals (owner, day, amount, tier_amount)
            SELECT * FROM unnest(p_total_owners, p_total_days, p_total_amounts,
                                 p_total_tier_amounts)
            ON CONFLICT (owner, day) DO UPDATE SET
                amount = limit_totals.amount + excluded.amount,
                tier_amount = limit_totals.tier_amount + excluded.tier_amount;
            RETURN true;
        END
        $body$
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION reserve_if_use_unchanged(text[], text[], text[], date[], text[], date[],"
        " bigint[], bigint[], text[], text[], text[], bigint[], text[], boolean[], boolean[],"
        " date[], timestamptz, text[], date[], bigint[], bigint[])"
    )
    # The locked read keeps reading through read_payers_and_use, which therefore stays.
