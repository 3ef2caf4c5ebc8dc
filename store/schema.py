"""Versioned, forward-only migrations. Never edit a released step: append a new one."""

from __future__ import annotations

# Step 1: what ingest needs. Step 2: what detection, privacy and the API need.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE sources (
            source_id INTEGER PRIMARY KEY,
            kind VARCHAR NOT NULL,            -- file | push
            path VARCHAR NOT NULL,            -- absolute path, or the push batch id
            format VARCHAR NOT NULL,
            head_len INTEGER NOT NULL,        -- bytes hashed into head_hash (<= 4096)
            head_hash VARCHAR NOT NULL,
            tail_hash VARCHAR NOT NULL,       -- hash of the 4096 bytes before bytes_done
            bytes_done BIGINT NOT NULL,
            lines_done BIGINT NOT NULL,
            events INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            quarantined INTEGER NOT NULL DEFAULT 0,
            parse_state JSON,                 -- what continuing the file needs (CSV header, year)
            first_loaded TIMESTAMP NOT NULL,
            last_loaded TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE events (
            event_id BIGINT NOT NULL,
            ts TIMESTAMP NOT NULL,            -- UTC
            event VARCHAR NOT NULL,
            outcome VARCHAR,
            "user" VARCHAR NOT NULL,
            customer_id VARCHAR,
            ip VARCHAR,
            host VARCHAR,
            user_agent VARCHAR,
            session_id VARCHAR,
            reason VARCHAR,
            service VARCHAR,
            extra JSON,
            ip_version TINYINT,
            ip_bin BLOB,                      -- 16 bytes, IPv4 mapped: range scans for CIDRs
            country VARCHAR,
            city VARCHAR,
            lat DOUBLE,
            lon DOUBLE,
            asn INTEGER,
            as_org VARCHAR,
            own_network VARCHAR,
            source_id INTEGER NOT NULL,
            line_no BIGINT NOT NULL,
            seq INTEGER NOT NULL,             -- >0 when one line holds several events
            ingested_at TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE quarantine (
            source_id INTEGER NOT NULL,
            line_no BIGINT NOT NULL,
            raw VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            quarantined_at TIMESTAMP NOT NULL
        )""",
    ),
    (
        """CREATE TABLE alerts (
            alert_id VARCHAR PRIMARY KEY,
            rule_id VARCHAR NOT NULL,
            category VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            entity_type VARCHAR NOT NULL,
            entity VARCHAR NOT NULL,
            first_seen TIMESTAMP NOT NULL,
            last_seen TIMESTAMP NOT NULL,
            event_count INTEGER NOT NULL,
            summary VARCHAR NOT NULL,
            status VARCHAR NOT NULL DEFAULT 'open',
            mitre VARCHAR[] NOT NULL,
            assignee VARCHAR,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE evidence (
            alert_id VARCHAR NOT NULL,
            event_id BIGINT NOT NULL
        )""",
        """CREATE TABLE alert_history (
            alert_id VARCHAR NOT NULL,
            changed_at TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL,
            change JSON NOT NULL
        )""",
        """CREATE TABLE rule_state (
            rule_id VARCHAR PRIMARY KEY,
            watermark_event_id BIGINT NOT NULL,
            last_run TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE holds (
            hold_id INTEGER PRIMARY KEY,
            "user" VARCHAR,
            ip VARCHAR,
            from_ts TIMESTAMP,
            to_ts TIMESTAMP,
            reason VARCHAR NOT NULL,
            created_by VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            released_at TIMESTAMP
        )""",
        """CREATE TABLE audit (
            seq BIGINT PRIMARY KEY,
            logged_at TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            detail JSON NOT NULL,
            prev_hash VARCHAR NOT NULL,
            hash VARCHAR NOT NULL
        )""",
        """CREATE TABLE tokens (
            token_id INTEGER PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            role VARCHAR NOT NULL,
            token_hash VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            revoked_at TIMESTAMP
        )""",
    ),
)

# Step 3: what retention and legal holds need.
MIGRATIONS += (
    (
        "ALTER TABLE holds ADD COLUMN customer_id VARCHAR",
        "ALTER TABLE holds ADD COLUMN ip_low BLOB",  # the held address range, as ip_bin
        "ALTER TABLE holds ADD COLUMN ip_high BLOB",
        "ALTER TABLE holds ADD COLUMN case_ref VARCHAR",
        "ALTER TABLE holds ADD COLUMN kind VARCHAR",  # preservation | incident | internal
        "ALTER TABLE holds ADD COLUMN until TIMESTAMP",  # expiry; null: until released
        "ALTER TABLE events ADD COLUMN pseudonymised BOOLEAN DEFAULT false",
        "ALTER TABLE events ALTER COLUMN pseudonymised SET NOT NULL",
        # Where verification starts once old audit entries have passed their retention.
        """CREATE TABLE audit_anchor (
            seq BIGINT NOT NULL,
            hash VARCHAR NOT NULL,
            set_at TIMESTAMP NOT NULL
        )""",
    ),
)

# Step 4: lawful extracts for authorities and the disclosures they make.
MIGRATIONS += (
    (
        """CREATE TABLE extracts (
            extract_id INTEGER PRIMARY KEY,
            authority VARCHAR NOT NULL,
            legal_basis VARCHAR NOT NULL,
            order_type VARCHAR NOT NULL,      -- production | preservation
            reference VARCHAR NOT NULL,       -- the authority's own reference
            deadline TIMESTAMP NOT NULL,
            emergency BOOLEAN NOT NULL,
            scope JSON NOT NULL,              -- users, customer_ids, ips, from, to
            secrecy_until TIMESTAMP,          -- not shown to the subject before this
            state VARCHAR NOT NULL,           -- requested | approved | refused
            requested_by VARCHAR NOT NULL,
            requested_at TIMESTAMP NOT NULL,
            decided_by VARCHAR,
            decided_at TIMESTAMP,
            refusal VARCHAR,
            holds JSON                        -- holds made for a preservation order
        )""",
        """CREATE TABLE disclosures (
            extract_id INTEGER NOT NULL,
            subject VARCHAR NOT NULL,         -- user name in the package
            customer_id VARCHAR,
            events INTEGER NOT NULL,
            package_sha256 VARCHAR NOT NULL,
            disclosed_at TIMESTAMP NOT NULL
        )""",
    ),
)

# Step 5: labelled, growing alerts (detection that holds on logs it has never seen): the
# sources of a campaign, the risk and reasons of a familiarity alert, how strongly the label
# was decided; the risk of each scored login.
MIGRATIONS += (
    (
        "ALTER TABLE alerts ADD COLUMN members JSON",  # [{"type": "ip", "value": ...}]
        "ALTER TABLE alerts ADD COLUMN risk DOUBLE",
        "ALTER TABLE alerts ADD COLUMN reasons JSON",  # ["new country Chile (never seen)"]
        "ALTER TABLE alerts ADD COLUMN weight BIGINT",
        """CREATE TABLE login_risk (
            event_id BIGINT PRIMARY KEY,
            risk DOUBLE NOT NULL,             -- 0..1: how unfamiliar the login was
            evidence DOUBLE NOT NULL,         -- the summed log likelihood ratio behind it
            learning BOOLEAN NOT NULL,        -- the account (or deployment) was still learning
            reasons VARCHAR[] NOT NULL,       -- the unfamiliar features and by how much
            scored_at TIMESTAMP NOT NULL
        )""",
    ),
)

# Step 6: staff are persons (a password and a second factor for the console; tokens are
# issued to a person), so that four eyes means two people, not two tokens.
MIGRATIONS += (
    (
        """CREATE TABLE staff (
            person_id INTEGER PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            role VARCHAR NOT NULL,
            password_hash VARCHAR NOT NULL,   -- argon2id
            totp_secret VARCHAR NOT NULL,     -- base32, RFC 6238
            created_by VARCHAR,               -- the person who added them; null: the operator
            created_at TIMESTAMP NOT NULL,
            disabled_at TIMESTAMP
        )""",
        "ALTER TABLE tokens ADD COLUMN person VARCHAR",  # issued to; null: a service token
        "ALTER TABLE tokens ADD COLUMN created_by VARCHAR",  # null: the operator's shell
        # Everyone who could have made the request: the requester, whoever made their token
        # or added them. None of them may decide it.
        "ALTER TABLE extracts ADD COLUMN requested_via JSON",
    ),
)

# Step 7: every push is a source, and a push's batch id is looked up before it is stored
# (the same id twice stores once). Without an index that lookup reads every source: 120 ms
# a group at a million pushes, 4 ms with it (docs/benchmarks.md).
MIGRATIONS += (("CREATE INDEX sources_by_path ON sources (path)",),)

LATEST_VERSION = len(MIGRATIONS)
