ALTER TABLE tickets ADD COLUMN priority TINYINT NOT NULL DEFAULT 3, ADD KEY tickets_status_priority (status, priority);
