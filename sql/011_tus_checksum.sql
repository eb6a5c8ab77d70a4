-- 011: the whole-file sha256 a tus client announced at creation (metadata
-- key "sha256"); the finished file must match it before it becomes a file
-- of the upload (cgi/tus.c).
ALTER TABLE tus_slots ADD COLUMN expected_sha256 CHAR(64) NULL AFTER storage_path;
