-- 003: upload sessions, their files and tus slots. Files live under
-- QUIRE_STORAGE at paths made from ids (storage_path is relative to it),
-- file_name is the sanitized name the client gave, never used as a path.
CREATE TABLE uploads (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    public_id         CHAR(36)     NOT NULL,
    owner_id          BIGINT UNSIGNED NOT NULL,
    upload_type       ENUM('single','multi') NOT NULL,
    total_files       INT          NOT NULL,
    total_size_bytes  BIGINT       NOT NULL,
    status            ENUM('pending','uploading','completed') NOT NULL DEFAULT 'pending',
    created_at        DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at        DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_uploads_public (public_id),
    KEY ix_uploads_owner (owner_id, id),
    CONSTRAINT fk_uploads_owner FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE upload_files (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    public_id         CHAR(36)     NOT NULL,
    upload_id         BIGINT UNSIGNED NOT NULL,
    seq               INT          NOT NULL,          -- upload order, 1-based
    file_name         VARCHAR(255) NOT NULL,          -- sanitized, display only
    storage_path      VARCHAR(255) NOT NULL,          -- relative to QUIRE_STORAGE
    size_bytes        BIGINT       NOT NULL,
    sha256            CHAR(64)     NOT NULL,
    format            VARCHAR(16)  NOT NULL,          -- detected: mp3 mp4 flac ogg wav
    uploaded_at       DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_upload_files_public (public_id),
    KEY ix_upload_files_upload (upload_id, seq),
    CONSTRAINT fk_upload_files_upload FOREIGN KEY (upload_id) REFERENCES uploads (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A tus 1.0 upload in progress: bytes [0, offset_bytes) are in the part file.
CREATE TABLE tus_slots (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    public_id         CHAR(36)     NOT NULL,
    upload_id         BIGINT UNSIGNED NOT NULL,
    file_name         VARCHAR(255) NOT NULL,
    length_bytes      BIGINT       NOT NULL,
    offset_bytes      BIGINT       NOT NULL DEFAULT 0,
    storage_path      VARCHAR(255) NOT NULL,
    created_at        DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at        DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_tus_public (public_id),
    KEY ix_tus_upload (upload_id),
    CONSTRAINT fk_tus_upload FOREIGN KEY (upload_id) REFERENCES uploads (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
