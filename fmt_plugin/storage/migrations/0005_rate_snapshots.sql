-- 0005 rate snapshots: the practice's status counts per indicator, once a day (the history of
-- its taux d'atteinte). Aggregates over the whole roster, no patient id: kept in clear.

CREATE TABLE rate_snapshots (
    day TEXT NOT NULL,
    indicator TEXT NOT NULL,
    done INTEGER NOT NULL,
    to_check INTEGER NOT NULL,
    upcoming INTEGER NOT NULL,
    excluded INTEGER NOT NULL,
    taken_at TEXT NOT NULL,
    PRIMARY KEY (day, indicator)
);
