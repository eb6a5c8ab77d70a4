-- 010: text-to-speech requests (cgi/tts.c) and webhook notifications
-- (lib/notify.c). A TTS request is one row here plus one `tts` job per
-- chapter and one `assemble` job waiting on them; its status is computed on
-- read from those jobs.
CREATE TABLE tts_requests (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    public_id         CHAR(32)     NOT NULL,              -- the API's job_id
    owner_id          BIGINT UNSIGNED NOT NULL,
    kind              ENUM('script','book') NOT NULL,
    work_id           VARCHAR(128) NULL,
    title             VARCHAR(255) NOT NULL DEFAULT '',
    voice_settings    TEXT         NOT NULL,              -- JSON as validated
    format            ENUM('mp3','m4b','wav') NOT NULL DEFAULT 'mp3',
    priority          INT          NOT NULL DEFAULT 0,
    notify_url        VARCHAR(2048) NULL,
    channel_code      VARCHAR(32)  NULL,
    video_number      INT          NULL,
    video_date        DATE         NULL,
    audio_counter     BIGINT       NULL,                  -- the seed's running number of daily-video audio
    output_dir        VARCHAR(255) NOT NULL,              -- relative to QUIRE_STORAGE
    total_chapters    INT          NOT NULL,
    total_chars       BIGINT       NOT NULL,
    assemble_job_id   BIGINT UNSIGNED NULL,
    cancelled_at      DATETIME(3)  NULL,
    created_at        DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_tts_public (public_id),
    KEY ix_tts_owner (owner_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE tts_chapters (
    request_id        BIGINT UNSIGNED NOT NULL,
    seq               INT          NOT NULL,              -- 1-based
    chapter_id        VARCHAR(128) NULL,                  -- the client's id
    title             VARCHAR(255) NOT NULL DEFAULT '',
    chars             INT          NOT NULL,
    job_id            BIGINT UNSIGNED NOT NULL,
    output_name       VARCHAR(64)  NOT NULL,              -- under the request's output_dir
    PRIMARY KEY (request_id, seq),
    KEY ix_tts_chapter_job (job_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A webhook to send when something reaches a final state. state:
-- watching (the watched job is not final yet), pending (event built, to be
-- delivered at next_attempt_at), delivered, gave_up (a day of retries).
CREATE TABLE notifications (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    owner_id          BIGINT UNSIGNED NOT NULL,
    kind              VARCHAR(32)  NOT NULL,              -- 'tts', 'audiobook', 'job'
    ref_id            BIGINT UNSIGNED NOT NULL,           -- tts_requests.id, audiobooks.id, jobs.id
    watch_job_id      BIGINT UNSIGNED NULL,               -- final when this job is final
    url               VARCHAR(2048) NOT NULL,
    state             ENUM('watching','pending','delivered','gave_up') NOT NULL DEFAULT 'watching',
    event             LONGTEXT     NULL,                  -- the JSON body, fixed once built
    attempts          INT          NOT NULL DEFAULT 0,
    next_attempt_at   DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    lease_until       DATETIME(3)  NULL,                  -- a sender holds it until then
    last_status       INT          NULL,
    last_error        VARCHAR(512) NULL,
    created_at        DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    final_at          DATETIME(3)  NULL,                  -- when the watched thing ended
    delivered_at      DATETIME(3)  NULL,
    KEY ix_notify_due (state, next_attempt_at),
    KEY ix_notify_owner (owner_id, id),
    KEY ix_notify_ref (kind, ref_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE notification_attempts (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    notification_id   BIGINT UNSIGNED NOT NULL,
    attempt           INT          NOT NULL,
    at                DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    http_status       INT          NULL,                  -- NULL: no response
    error             VARCHAR(512) NULL,
    duration_ms       INT          NOT NULL DEFAULT 0,
    KEY ix_notify_attempts (notification_id, attempt)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
