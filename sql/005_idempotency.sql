-- 005: the first response to a POST carrying an Idempotency-Key, per user
-- and key. status 0 marks a request still in progress.
CREATE TABLE idempotency_keys (
    user_id           BIGINT UNSIGNED NOT NULL,
    idem_key          VARCHAR(128) NOT NULL,
    method            VARCHAR(8)   NOT NULL,
    path              VARCHAR(512) NOT NULL,
    status            INT          NOT NULL DEFAULT 0,
    headers           TEXT         NULL,
    body              LONGTEXT     NULL,
    created_at        DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (user_id, idem_key),
    KEY ix_idem_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
