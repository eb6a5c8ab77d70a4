-- 001: users and their API tokens (stored only as SHA-256 hashes).
CREATE TABLE users (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name            VARCHAR(64)  NOT NULL,
    role            ENUM('admin','user','worker') NOT NULL DEFAULT 'user',
    priority_class  ENUM('standard','premium') NOT NULL DEFAULT 'standard',
    webhook_secret  CHAR(64)     NOT NULL,
    created_at      DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_users_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE api_tokens (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id         BIGINT UNSIGNED NOT NULL,
    token_hash      CHAR(64)     NOT NULL,
    prefix          CHAR(8)      NOT NULL,
    label           VARCHAR(64)  NOT NULL DEFAULT '',
    created_at      DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    last_used_at    DATETIME(3)  NULL,
    revoked_at      DATETIME(3)  NULL,
    UNIQUE KEY uq_token_hash (token_hash),
    KEY ix_tokens_user (user_id),
    CONSTRAINT fk_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
