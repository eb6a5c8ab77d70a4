-- 002: the job queue. lib/queue.c is the only writer of jobs.status.
CREATE TABLE jobs (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    type              VARCHAR(32)  NOT NULL,
    status            ENUM('waiting','pending','running','completed','failed','cancelled') NOT NULL DEFAULT 'pending',
    priority          INT          NOT NULL DEFAULT 0,   -- effective: base + class bonus + aging
    base_priority     INT          NOT NULL DEFAULT 0,
    run_at            DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    aged_at           DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    attempts          INT          NOT NULL DEFAULT 0,
    max_attempts      INT          NOT NULL DEFAULT 3,
    lease_expires_at  DATETIME(3)  NULL,
    attempt_token     VARCHAR(64)  NULL,
    worker_id         VARCHAR(64)  NULL,
    owner_id          BIGINT UNSIGNED NULL,
    audiobook_id      BIGINT UNSIGNED NULL,
    parent_id         BIGINT UNSIGNED NULL,              -- a request that groups jobs (TTS book)
    payload           LONGTEXT     NOT NULL DEFAULT '{}',
    result            LONGTEXT     NULL,
    last_error        TEXT         NULL,
    progress_percent  DOUBLE       NOT NULL DEFAULT 0,
    progress_message  VARCHAR(255) NULL,
    progress_current  INT          NULL,
    progress_total    INT          NULL,
    cancel_requested  TINYINT(1)   NOT NULL DEFAULT 0,
    has_dependents    TINYINT(1)   NOT NULL DEFAULT 0,
    idempotency_key   VARCHAR(128) NULL,
    created_at        DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    started_at        DATETIME(3)  NULL,
    finished_at       DATETIME(3)  NULL,
    -- The claim: WHERE status='pending' AND type=? ORDER BY priority DESC, id
    KEY ix_jobs_claim (status, type, priority DESC, id),
    KEY ix_jobs_lease (status, lease_expires_at),
    KEY ix_jobs_owner (owner_id, id),
    KEY ix_jobs_audiobook (audiobook_id),
    KEY ix_jobs_parent (parent_id),
    KEY ix_jobs_finished (finished_at),
    UNIQUE KEY uq_jobs_idem (owner_id, idempotency_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE job_attempts (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    job_id       BIGINT UNSIGNED NOT NULL,
    attempt      INT          NOT NULL,
    worker_id    VARCHAR(64)  NULL,
    started_at   DATETIME(3)  NULL,
    finished_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    outcome      ENUM('completed','failed','lease_expired','cancelled','released') NOT NULL,
    error        TEXT         NULL,
    KEY ix_attempts_job (job_id, attempt)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE job_deps (
    job_id       BIGINT UNSIGNED NOT NULL,
    depends_on   BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (job_id, depends_on),
    KEY ix_deps_on (depends_on)
) ENGINE=InnoDB;

CREATE TABLE workers (
    id              VARCHAR(64)  NOT NULL PRIMARY KEY,
    hostname        VARCHAR(255) NOT NULL,
    types           VARCHAR(512) NOT NULL,
    gpu             VARCHAR(128) NOT NULL DEFAULT 'none',
    capabilities    TEXT         NULL,                   -- JSON: engines and voices
    status          ENUM('online','draining','offline') NOT NULL DEFAULT 'online',
    concurrency     INT          NOT NULL DEFAULT 1,
    current_jobs    INT          NOT NULL DEFAULT 0,
    jobs_completed  BIGINT       NOT NULL DEFAULT 0,
    jobs_failed     BIGINT       NOT NULL DEFAULT 0,
    last_heartbeat  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    stats           TEXT         NULL,                   -- JSON: average seconds per type
    started_at      DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Idle workers parked in SELECT SLEEP() on a connection of their own; an
-- enqueue wakes one by setting woken and KILL QUERY (MariaDB has no
-- LISTEN/NOTIFY). The sleep statement skips sleeping when woken is already
-- set, so a wake that lands before the sleep starts is not lost.
CREATE TABLE worker_waits (
    conn_id     BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    worker_id   VARCHAR(64)  NOT NULL,
    types       VARCHAR(512) NOT NULL,
    since       DATETIME(3)  NOT NULL,
    woken       TINYINT(1)   NOT NULL DEFAULT 0
) ENGINE=InnoDB;

CREATE TABLE counters (
    name        VARCHAR(128) NOT NULL PRIMARY KEY,
    value       BIGINT       NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The ledger of the noop job type (tests and benchmarks): one row each time a
-- worker's completion of a noop job was accepted by the queue.
CREATE TABLE noop_completions (
    job_id      BIGINT UNSIGNED NOT NULL,
    worker_id   VARCHAR(64)  NOT NULL,
    at          DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY ix_noop_job (job_id)
) ENGINE=InnoDB;
