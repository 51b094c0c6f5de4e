ALTER TABLE tasks ADD COLUMN priority TINYINT NOT NULL DEFAULT 3, ADD KEY tasks_status_priority (status, priority);
