-- 0005 rate snapshots: the practice's status counts per indicator, once a day.
-- PostgreSQL translation of ../0005_rate_snapshots.sql; aggregates only, kept in clear.

CREATE TABLE rate_snapshots (
    day text NOT NULL,
    indicator text NOT NULL,
    done bigint NOT NULL,
    to_check bigint NOT NULL,
    upcoming bigint NOT NULL,
    excluded bigint NOT NULL,
    taken_at text NOT NULL,
    PRIMARY KEY (day, indicator)
);
