-- 004: audiobooks and their chapters. An audiobook's status is computed on
-- read from its jobs (cgi/audiobooks.c): processing while any job is not
-- final, failed when one failed or was cancelled, ready otherwise. The
-- engines and text workers write the result columns (duration, codec,
-- transcript_path, summary, tags) when their jobs complete.
CREATE TABLE audiobooks (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    public_id         CHAR(36)     NOT NULL,
    owner_id          BIGINT UNSIGNED NOT NULL,
    upload_id         BIGINT UNSIGNED NULL,
    title             VARCHAR(255) NOT NULL,
    author            VARCHAR(255) NOT NULL DEFAULT '',
    description       TEXT         NULL,
    language          VARCHAR(16)  NOT NULL DEFAULT 'en',
    is_public         TINYINT(1)   NOT NULL DEFAULT 0,
    duration_seconds  DOUBLE       NULL,
    summary           LONGTEXT     NULL,                 -- JSON, the latest (early, then final)
    summary_stage     ENUM('early','final') NULL,
    tags              LONGTEXT     NULL,                 -- JSON array, the latest
    tags_stage        ENUM('early','final') NULL,
    storage_dir       VARCHAR(255) NOT NULL,             -- relative to QUIRE_STORAGE
    created_at        DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at        DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_audiobooks_public (public_id),
    KEY ix_audiobooks_owner (owner_id, id),
    CONSTRAINT fk_audiobooks_owner FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE chapters (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    audiobook_id      BIGINT UNSIGNED NOT NULL,
    seq               INT          NOT NULL,             -- 1-based, the reading order
    title             VARCHAR(255) NOT NULL,
    file_name         VARCHAR(255) NOT NULL,
    storage_path      VARCHAR(255) NOT NULL,             -- the audio, relative to QUIRE_STORAGE
    format            VARCHAR(16)  NOT NULL,
    size_bytes        BIGINT       NOT NULL,
    sha256            CHAR(64)     NOT NULL,
    duration_seconds  DOUBLE       NULL,                 -- engines: probed or decoded
    codec             VARCHAR(32)  NULL,
    bitrate           INT          NULL,
    sample_rate       INT          NULL,
    channels          INT          NULL,
    transcript_path   VARCHAR(255) NULL,                 -- engines: JSON transcript, relative
    transcript_words  INT          NULL,
    UNIQUE KEY uq_chapters_seq (audiobook_id, seq),
    CONSTRAINT fk_chapters_audiobook FOREIGN KEY (audiobook_id) REFERENCES audiobooks (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
