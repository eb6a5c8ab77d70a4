-- 008: transcript windows and their embeddings (float32 vectors as BLOBs),
-- written by embed jobs, searched with the BLAS layer.
CREATE TABLE embeddings (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    audiobook_id  BIGINT UNSIGNED NOT NULL,
    chapter_id    BIGINT UNSIGNED NOT NULL,
    chapter_seq   INT          NOT NULL,
    start_s       DOUBLE       NOT NULL,
    end_s         DOUBLE       NOT NULL,
    text          TEXT         NOT NULL,
    vec           BLOB         NOT NULL,
    created_at    DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY ix_embeddings_book (audiobook_id, chapter_seq, start_s)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
