-- 009: the library's document frequencies (hashed words and phrases, one
-- document per audiobook) that tag jobs score keyphrases against; the books
-- already counted, so a retried job never counts a book twice.
CREATE TABLE library_df (
    id          TINYINT      NOT NULL PRIMARY KEY,
    df          LONGBLOB     NOT NULL,
    updated_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB;

CREATE TABLE library_df_books (
    audiobook_id  BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    counted_at    DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB;
