-- kukuri-trending's additions, after kukuri's columns (the column order kukuri's readers expect).
ALTER TABLE topic_metrics ADD COLUMN unique_authors_6h INTEGER NOT NULL DEFAULT 0;
ALTER TABLE topic_metrics ADD COLUMN boosts_6h INTEGER NOT NULL DEFAULT 0;
ALTER TABLE topic_metrics ADD COLUMN replies_6h INTEGER NOT NULL DEFAULT 0;
ALTER TABLE topic_metrics ADD COLUMN bookmarks_6h INTEGER NOT NULL DEFAULT 0;
ALTER TABLE topic_metrics ADD COLUMN participants_24h INTEGER NOT NULL DEFAULT 0;
